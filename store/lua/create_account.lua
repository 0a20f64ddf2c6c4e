-- Creates one account and its index entries atomically: the account hash,
-- the e-mail index, the friendly-name index, the parent's children and the
-- organization's members. Nothing is written when a check fails.
-- ARGV[1]: key prefix; ARGV[2..6]: the guard and request id (guard.lua);
-- ARGV[7..]: field/value pairs of the account hash.
local p = ARGV[1]
local a = {}
for i = 7, #ARGV - 1, 2 do a[ARGV[i]] = ARGV[i + 1] end

local acct = p .. 'acct:' .. a.sid
local email = p .. 'email:' .. a.email
if redis.call('EXISTS', acct) == 1 or redis.call('EXISTS', email) == 1 then
  return redis.error_reply('DUPLICATE')
end
if redis.call('EXISTS', p .. 'org:' .. a.org) == 0 then
  return redis.error_reply('NOORG')
end
if a.parent ~= '' then
  local parent = redis.call('HGET', p .. 'acct:' .. a.parent, 'status')
  if not parent then return redis.error_reply('NOPARENT') end
  -- no new account under a parent that is no longer active (closed while
  -- the request was on its way)
  if ARGV[2] ~= '' and parent ~= 'active' then return redis.error_reply('STALE') end
end

local fields = {'req', ARGV[6]}
for i = 7, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', acct, unpack(fields))
redis.call('SET', email, a.sid)
redis.call('ZADD', p .. 'fname:' .. a.fname, 0, a.sid)
redis.call('ZADD', p .. 'orgacc:' .. a.org, 0, a.sid)
if a.parent ~= '' then
  redis.call('ZADD', p .. 'children:' .. a.parent, 0, a.sid)
end
return redis.call('HGETALL', acct)
