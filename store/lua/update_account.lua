-- Updates one account, and cascades a status change over its whole subtree,
-- in one atomic step: no reader sees a half-changed tree, and concurrent
-- updates of different fields never overwrite each other.
-- ARGV[1] prefix, ARGV[2..6] the guard and request id (guard.lua), then
-- from A = 7:
-- ARGV[A] sid, ARGV[A+1] now (Unix seconds),
-- ARGV[A+2] friendly name or '' , ARGV[A+3] '1' when a friendly name is given,
-- ARGV[A+4] auth token or '' (a password was given when non-empty),
-- ARGV[A+5] role or '', ARGV[A+6] '1' when a role is given,
-- ARGV[A+7] status or '' (already validated and lower-cased).
local A = 7
local p, sid, now = ARGV[1], ARGV[A], ARGV[A + 1]
local acct = p .. 'acct:' .. sid
local cur = redis.call('HMGET', acct, 'status', 'fname')
if not cur[1] then return redis.error_reply('NOTFOUND') end
local status = cur[1]
-- closed is terminal: RestComm refuses any update of a closed account
if status == 'closed' then return redis.error_reply('CLOSED') end

local newstatus = status
if ARGV[A + 7] ~= '' then newstatus = ARGV[A + 7] end
-- a password set on an uninitialized account activates it, whatever Status says
if ARGV[A + 4] ~= '' and status == 'uninitialized' then newstatus = 'active' end

local set = {'updated', now, 'status', newstatus, 'req', ARGV[6]}
if ARGV[A + 3] == '1' then
  table.insert(set, 'fname'); table.insert(set, ARGV[A + 2])
  if ARGV[A + 2] ~= cur[2] then
    redis.call('ZREM', p .. 'fname:' .. cur[2], sid)
    redis.call('ZADD', p .. 'fname:' .. ARGV[A + 2], 0, sid)
  end
end
if ARGV[A + 4] ~= '' then table.insert(set, 'token'); table.insert(set, ARGV[A + 4]) end
if ARGV[A + 6] == '1' then table.insert(set, 'role'); table.insert(set, ARGV[A + 5]) end

if newstatus ~= status then
  -- RestComm sets every descendant to the new status, whatever its own
  -- status was (re-activating a parent re-activates closed children).
  local queue, seen, i = {sid}, {[sid] = true}, 1
  while i <= #queue do
    local kids = redis.call('ZRANGE', p .. 'children:' .. queue[i], 0, -1)
    for _, kid in ipairs(kids) do
      if not seen[kid] then
        seen[kid] = true
        table.insert(queue, kid)
        redis.call('HSET', p .. 'acct:' .. kid, 'status', newstatus, 'updated', now)
      end
    end
    i = i + 1
  end
end
redis.call('HSET', acct, unpack(set))
return redis.call('HGETALL', acct)
