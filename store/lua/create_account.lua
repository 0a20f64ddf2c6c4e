-- Creates one account and its index entries atomically: the account hash,
-- the e-mail index, the friendly-name index, the parent's children and the
-- organization's members. Nothing is written when a check fails.
-- Arguments: the guard (guard.lua), the account's fields (ACCOUNT) and,
-- optionally, A.secret: its sealed password, for the outbox (outbox.lua).
local p = ARGV[1]
local acct = p .. 'acct:' .. A.sid
local email = p .. 'email:' .. A.email
if redis.call('EXISTS', acct) == 1 or redis.call('EXISTS', email) == 1 then
  return redis.error_reply('DUPLICATE')
end
if redis.call('EXISTS', p .. 'org:' .. A.org) == 0 then
  return redis.error_reply('NOORG')
end
if A.parent ~= '' then
  local parent = redis.call('HGET', p .. 'acct:' .. A.parent, F.status)
  if not parent then return redis.error_reply('NOPARENT') end
  -- no new account under a parent that is no longer active (closed while
  -- the request was on its way)
  if A.caller ~= '' and parent ~= 'active' then return redis.error_reply('STALE') end
end

local fields = {F.req, A.request}
for _, f in ipairs(ACCOUNT) do
  table.insert(fields, f); table.insert(fields, A[f])
end
redis.call('HSET', acct, unpack(fields))
redis.call('SET', email, A.sid)
redis.call('ZADD', p .. 'fname:' .. A.fname, 0, A.sid)
redis.call('ZADD', p .. 'orgacc:' .. A.org, 0, A.sid)
if A.parent ~= '' then
  redis.call('ZADD', p .. 'children:' .. A.parent, 0, A.sid)
end
outbox(p, {F.op, 'create', F.sid, A.sid, F.org, A.org, F.status, A.status}, {A.sid})
-- a login or name that found nothing may find this account now
changed(p, {A.sid, A.email, A.fname})
return redis.call('HGETALL', acct)
