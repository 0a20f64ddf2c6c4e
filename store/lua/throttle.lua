-- Part of the prelude of the scripts that read or write the failed-login
-- counters (throttle.go): resolve.lua reads them, record_failure.lua
-- checks and adds, and throttle.go's unblock lookup names them. Each
-- counter is a sliding-window log, a sorted set of failure times (ms):
--   P thr:login:<id>:<net>  the failures of one login from one client network
--   P thr:ip:<net>          the failures of any login from one client network
-- Every script derives the keys here, from its own lookup of the login,
-- so that the gateway's Go and the scripts cannot disagree on them.
-- Needs keys.lua's split and the prelude's F.

-- the Redis clock in ms: one clock for every gateway
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- login_account is the account a login names, as RestComm's login finds
-- it: the one account filed under the login's e-mail key, else the one
-- whose SID is the login's SID form. It returns that account's hash
-- (empty: none) and whether several accounts answer to the address, or
-- one does and RestComm's database holds another (a reserved address):
-- then none of them is the caller.
local function login_account(p, key, sid)
  local sids = redis.call('ZRANGE', p .. 'emails:' .. key, 0, 1)
  if #sids > 1 or #sids == 1 and redis.call('HEXISTS', p .. 'rsv:email', key) == 1 then
    return {}, true
  end
  return redis.call('HGETALL', p .. 'acct:' .. (sids[1] or sid)), false
end

-- login_id names a login's counters: the account's SID when the login
-- names one, so that its e-mail address and its SID share one count;
-- else the login's key under the namespace's comparison rule. Hashed, so
-- that a key's length does not depend on what a client sends.
local function login_id(h, key)
  for i = 1, #h, 2 do
    if h[i] == F.sid then return redis.sha1hex('a:' .. h[i + 1]) end
  end
  return redis.sha1hex('l:' .. key)
end

-- the login-IP and the IP counter of a login id from a client network
local function counter_keys(p, id, net)
  return p .. 'thr:login:' .. id .. ':' .. net, p .. 'thr:ip:' .. net
end

-- failures counts a log's entries within the window ending now; when the
-- count is at the limit, also the ms until the entry that keeps it there
-- leaves the window
local function failures(key, limit, now, window)
  local since = '(' .. (now - window)
  local count = redis.call('ZCOUNT', key, since, '+inf')
  if count < limit then return count, 0 end
  local e = redis.call('ZRANGEBYSCORE', key, since, '+inf', 'WITHSCORES', 'LIMIT', count - limit, 1)
  return count, tonumber(e[2]) + window - now
end
