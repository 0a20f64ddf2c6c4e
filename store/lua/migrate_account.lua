-- Moves an account and its direct children (RestComm does not recurse) to
-- another organization, atomically.
-- Arguments: the guard (guard.lua), A.target, A.org (the organization to
-- move to), A.now.
local p, sid, org, now = ARGV[1], A.target, A.org, A.now
local acct = p .. 'acct:' .. sid
local cur = redis.call('HGET', acct, F.org)
if not cur then return redis.error_reply('NOTFOUND') end
if redis.call('EXISTS', p .. 'org:' .. org) == 0 then return redis.error_reply('NOORG') end
if cur == org then return redis.error_reply('SAMEORG') end

local moved = {sid}
local function move(s, from)
  redis.call('ZREM', p .. 'orgacc:' .. from, s)
  redis.call('ZADD', p .. 'orgacc:' .. org, 0, s)
  redis.call('HSET', p .. 'acct:' .. s, F.org, org, F.updated, now)
end
move(sid, cur)
redis.call('HSET', acct, F.req, A.request)
for _, kid in ipairs(redis.call('ZRANGE', p .. 'children:' .. sid, 0, -1)) do
  local from = redis.call('HGET', p .. 'acct:' .. kid, F.org)
  if from and from ~= org then
    move(kid, from)
    table.insert(moved, kid)
  end
end
outbox(p, {F.op, 'migrate', F.sid, sid, F.org, org}, moved)
changed(p, moved)
return redis.call('HGETALL', acct)
