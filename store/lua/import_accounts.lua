-- Imports a batch of accounts from RestComm (restcomm-gateway accounts
-- import), each with the index entries create_account.lua makes: the
-- e-mail index, the friendly-name index, the organization's members and
-- the parent's children; an account whose e-mail, friendly name,
-- organization or parent changed leaves its old entries. Every account is
-- one of:
--   imported   it was not there: written
--   unchanged  it is there exactly as the source has it: nothing written
--              (but its fingerprint, when it lacked one)
--   updated    it is there as the last import wrote it (or, for the seeded
--              default administrator, as seeding wrote it: never updated
--              since), and the source changed it: written
--   conflict:<fields>  it was changed at the gateway since the last import
--              (or created there): left alone unless overwrite; <fields>
--              are those where the gateway and the source differ
-- Accounts whose e-mail addresses are equal under the namespace's rule are
-- all filed, as RestComm's database holds them all (keys.go).
-- What an import wrote is remembered as a fingerprint of the account's
-- fields in the hash ('imp'), so that a later import tells a change made
-- at the gateway from one made in the source. The script is idempotent:
-- run again, it answers unchanged and writes nothing.
-- Arguments: see import.lua (A.default: the default administrator's SID);
-- the keys (keys.lua), and A.ikeys: each entry's e-mail and friendly-name
-- keys, as <length>:<bytes>.
local keys_ok, keys_have = keys_hold(p, A.keys, not dry)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local ikeys = split(A.ikeys)
local wrote = false
local function write(key, a, vals, fp, c, ek, nk)
  wrote = true
  if c then
    local oldek, oldnk = account_keys(p, a.sid)
    redis.call('ZREM', p .. 'emails:' .. oldek, a.sid)
    redis.call('ZREM', p .. 'fname:' .. oldnk, a.sid)
    if c.org ~= a.org then redis.call('ZREM', p .. 'orgacc:' .. c.org, a.sid) end
    if c.parent ~= a.parent and c.parent ~= '' then
      redis.call('ZREM', p .. 'children:' .. c.parent, a.sid)
    end
  end
  redis.call('HSET', key, unpack(hash(vals, fp)))
  index_account(p, a.sid, a.email, a.fname, ek, nk)
  redis.call('ZADD', p .. 'orgacc:' .. a.org, 0, a.sid)
  if a.parent ~= '' then redis.call('ZADD', p .. 'children:' .. a.parent, 0, a.sid) end
end

local out = {}
for k = 0, #values / n - 1 do
  local vals, a = {}, {}
  for i = 1, n do
    vals[i] = values[k * n + i]
    a[names[i]] = vals[i]
  end
  local key = p .. 'acct:' .. a.sid
  local want = fingerprint(vals)
  local verdict, c = judge(key, redis.call('HMGET', key, unpack(fetch)), vals, want)
  local result = verdict
  if verdict == 'new' or verdict == 'update' then
    if not dry then write(key, a, vals, want, verdict == 'update' and c or nil, ikeys[2 * k + 1], ikeys[2 * k + 2]) end
    result = verdict == 'new' and 'imported' or 'updated'
  end
  out[#out + 1] = result
end
-- gateways caching accounts drop them all (changes.lua)
if wrote then changed_all(p) end
return out
