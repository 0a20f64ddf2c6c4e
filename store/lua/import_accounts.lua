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
-- KEYS[1] any key of the namespace (routing). ARGV[1] prefix; ARGV[2] '1'
-- to overwrite conflicts; ARGV[3] '1' for a dry run (nothing written);
-- ARGV[4] the default administrator's SID; ARGV[5] n, the number of
-- fields; ARGV[6 .. 5+n] their names in the hash; then n values per
-- account.
local p, overwrite, dry, admin = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', ARGV[4]
local n = tonumber(ARGV[5])
local names, fetch = {}, {}
for i = 1, n do
  names[i] = ARGV[5 + i]
  fetch[i] = names[i]
end
fetch[n + 1] = 'imp'

local function fingerprint(vals)
  local parts = {}
  for i = 1, n do parts[i] = #vals[i] .. ':' .. vals[i] end
  return redis.sha1hex(table.concat(parts, ','))
end

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
  local fields = {}
  for i = 1, n do
    fields[2 * i - 1] = names[i]
    fields[2 * i] = vals[i]
  end
  fields[2 * n + 1] = 'imp'
  fields[2 * n + 2] = fp
  redis.call('HSET', key, unpack(fields))
  redis.call('SET', p .. 'email:' .. a.email, a.sid)
  redis.call('ZADD', p .. 'fname:' .. a.fname, 0, a.sid)
  redis.call('ZADD', p .. 'orgacc:' .. a.org, 0, a.sid)
  if a.parent ~= '' then redis.call('ZADD', p .. 'children:' .. a.parent, 0, a.sid) end
end

local out = {}
local base = 5 + n
for k = 0, (#ARGV - base) / n - 1 do
  local vals, a = {}, {}
  for i = 1, n do
    vals[i] = ARGV[base + k * n + i]
    a[names[i]] = vals[i]
  end
  local key = p .. 'acct:' .. a.sid
  local cur = redis.call('HMGET', key, unpack(fetch))
  local want = fingerprint(vals)
  local exists = false
  for i = 1, n do if cur[i] then exists = true end end
  local result
  if not exists then
    local owner = redis.call('GET', p .. 'email:' .. a.email)
    if owner and owner ~= a.sid then
      result = 'taken:' .. owner
    else
      if not dry then write(key, a, vals, want, nil) end
      result = 'imported'
    end
  else
    local c, cv = {}, {}
    for i = 1, n do
      cv[i] = cur[i] or ''
      c[names[i]] = cv[i]
    end
    local have, imp = fingerprint(cv), cur[n + 1]
    if have == want then
      if imp ~= want and not dry then redis.call('HSET', key, 'imp', want) end
      result = 'unchanged'
    else
      local baseline = imp == have or (not imp and a.sid == admin and c.created == c.updated)
      if not baseline and not overwrite then
        local diff = {}
        for i = 1, n do if cv[i] ~= vals[i] then diff[#diff + 1] = names[i] end end
        result = 'conflict:' .. table.concat(diff, ',')
      else
        local owner = redis.call('GET', p .. 'email:' .. a.email)
        if owner and owner ~= a.sid then
          result = 'taken:' .. owner
        else
          if not dry then write(key, a, vals, want, c) end
          result = 'updated'
        end
      end
    end
  end
  out[#out + 1] = result
end
-- gateways caching accounts drop them all (changes.lua)
if wrote then redis.call('PUBLISH', p .. 'changes', '*') end
return out
