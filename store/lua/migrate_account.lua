-- Moves an account and its direct children (RestComm does not recurse) to
-- another organization, atomically.
-- ARGV[1] prefix, ARGV[2..6] the guard and request id (guard.lua), ARGV[7]
-- sid, ARGV[8] organization sid, ARGV[9] now.
local p, sid, org, now = ARGV[1], ARGV[7], ARGV[8], ARGV[9]
local acct = p .. 'acct:' .. sid
local cur = redis.call('HGET', acct, 'org')
if not cur then return redis.error_reply('NOTFOUND') end
if redis.call('EXISTS', p .. 'org:' .. org) == 0 then return redis.error_reply('NOORG') end
if cur == org then return redis.error_reply('SAMEORG') end

local function move(s, from)
  redis.call('ZREM', p .. 'orgacc:' .. from, s)
  redis.call('ZADD', p .. 'orgacc:' .. org, 0, s)
  redis.call('HSET', p .. 'acct:' .. s, 'org', org, 'updated', now)
end
move(sid, cur)
redis.call('HSET', acct, 'req', ARGV[6])
for _, kid in ipairs(redis.call('ZRANGE', p .. 'children:' .. sid, 0, -1)) do
  local from = redis.call('HGET', p .. 'acct:' .. kid, 'org')
  if from and from ~= org then move(kid, from) end
end
return redis.call('HGETALL', acct)
