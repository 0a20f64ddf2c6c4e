-- Creates one account and its index entries atomically: the account hash,
-- the e-mail index, the friendly-name index, the parent's children and the
-- organization's members. Nothing is written when a check fails.
-- Arguments: the guard (guard.lua), the account's fields (ACCOUNT), the
-- keys (keys.lua) with A.ek and A.nk, its e-mail and friendly-name keys,
-- and, optionally, for the outbox (outbox.lua): A.secret, its sealed
-- password, and A.login, its SIP client's login.
local p = ARGV[1]
local keys_ok, keys_have = keys_hold(p, A.keys, true)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local acct = p .. 'acct:' .. A.sid
-- taken: the SID, the e-mail address (as the rule compares), or either
-- reserved for an account RestComm holds and the gateway does not
if redis.call('EXISTS', acct, p .. 'emails:' .. A.ek) > 0
    or redis.call('HEXISTS', p .. 'rsv:sid', A.sid) == 1
    or redis.call('HEXISTS', p .. 'rsv:email', A.ek) == 1 then
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
index_account(p, A.sid, A.email, A.fname, A.ek, A.nk)
redis.call('ZADD', p .. 'orgacc:' .. A.org, 0, A.sid)
if A.parent ~= '' then
  redis.call('ZADD', p .. 'children:' .. A.parent, 0, A.sid)
end
local entry = {F.op, 'create', F.sid, A.sid, F.org, A.org, F.status, A.status}
if A.login then table.insert(entry, F.login); table.insert(entry, A.login) end
outbox(p, entry, {A.sid})
-- a login or name that found nothing may find this account now
changed(p, {A.sid, A.email, A.fname})
return redis.call('HGETALL', acct)
