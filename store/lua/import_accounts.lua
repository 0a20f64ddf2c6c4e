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
--   taken:<sid> its e-mail address belongs to another account here: left alone
-- What an import wrote is remembered as a fingerprint of the account's
-- fields in the hash ('imp'), so that a later import tells a change made
-- at the gateway from one made in the source. The script is idempotent:
-- run again, it answers unchanged and writes nothing.
-- Arguments: see import.lua (A.default: the default administrator's SID).
local wrote = false
local function write(key, a, vals, fp, c)
  wrote = true
  if c then
    if c.email ~= a.email and redis.call('GET', p .. 'email:' .. c.email) == a.sid then
      redis.call('DEL', p .. 'email:' .. c.email)
    end
    if c.fname ~= a.fname then redis.call('ZREM', p .. 'fname:' .. c.fname, a.sid) end
    if c.org ~= a.org then redis.call('ZREM', p .. 'orgacc:' .. c.org, a.sid) end
    if c.parent ~= a.parent and c.parent ~= '' then
      redis.call('ZREM', p .. 'children:' .. c.parent, a.sid)
    end
  end
  redis.call('HSET', key, unpack(hash(vals, fp)))
  redis.call('SET', p .. 'email:' .. a.email, a.sid)
  redis.call('ZADD', p .. 'fname:' .. a.fname, 0, a.sid)
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
    local owner = redis.call('GET', p .. 'email:' .. a.email)
    if owner and owner ~= a.sid then
      result = 'taken:' .. owner
    else
      if not dry then write(key, a, vals, want, verdict == 'update' and c or nil) end
      result = verdict == 'new' and 'imported' or 'updated'
    end
  end
  out[#out + 1] = result
end
-- gateways caching accounts drop them all (changes.lua)
if wrote then changed_all(p) end
return out
