-- Updates one account, and cascades a status change over its whole subtree,
-- in one atomic step: no reader sees a half-changed tree, and concurrent
-- updates of different fields never overwrite each other.
-- Arguments: the guard (guard.lua), A.target, A.now (Unix seconds), and
-- each field the update changes, present only when given: A.fname,
-- A.token (a new password's), A.role, A.status (validated, lower-cased);
-- with a new password, optionally A.secret (sealed, for the outbox); the
-- keys (keys.lua) with, for a new friendly name, its key A.nk.
local p, sid, now = ARGV[1], A.target, A.now
local keys_ok, keys_have = keys_hold(p, A.keys, true)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local acct = p .. 'acct:' .. sid
local cur = redis.call('HMGET', acct, F.status, F.fname)
if not cur[1] then return redis.error_reply('NOTFOUND') end
local status = cur[1]
-- closed is terminal: RestComm refuses any update of a closed account
if status == 'closed' then return redis.error_reply('CLOSED') end

local newstatus = A.status or status
-- a password set on an uninitialized account activates it, whatever Status says
if A.token and status == 'uninitialized' then newstatus = 'active' end

local set = {F.updated, now, F.status, newstatus, F.req, A.request}
if A.fname then
  table.insert(set, F.fname); table.insert(set, A.fname)
  if A.fname ~= cur[2] then
    local _, oldkey = account_keys(p, sid)
    redis.call('ZREM', p .. 'fname:' .. oldkey, sid)
    redis.call('ZADD', p .. 'fname:' .. A.nk, 0, sid)
    if A.nk ~= A.fname then redis.call('HSET', acct, F.nk, A.nk) else redis.call('HDEL', acct, F.nk) end
  end
end
if A.token then table.insert(set, F.token); table.insert(set, A.token) end
if A.role then table.insert(set, F.role); table.insert(set, A.role) end

local queue = {sid} -- the accounts written: sid, and with a status change its subtree
if newstatus ~= status then
  -- RestComm sets every descendant to the new status, whatever its own
  -- status was (re-activating a parent re-activates closed children).
  local seen, i = {[sid] = true}, 1
  while i <= #queue do
    local kids = redis.call('ZRANGE', p .. 'children:' .. queue[i], 0, -1)
    for _, kid in ipairs(kids) do
      if not seen[kid] then
        seen[kid] = true
        table.insert(queue, kid)
        redis.call('HSET', p .. 'acct:' .. kid, F.status, newstatus, F.updated, now)
      end
    end
    i = i + 1
  end
end
redis.call('HSET', acct, unpack(set))
local entry = {F.op, 'update', F.sid, sid, F.from, status, F.status, newstatus}
if A.token then table.insert(entry, F.new_password); table.insert(entry, '1') end
-- a given FriendlyName renames the linked SIP client too (RestComm's updateLinkedClient)
if A.fname then table.insert(entry, F.fname); table.insert(entry, A.fname) end
outbox(p, entry, queue)
local ids = {cur[2], A.fname}
for _, s in ipairs(queue) do ids[#ids + 1] = s end
changed(p, ids)
return redis.call('HGETALL', acct)
