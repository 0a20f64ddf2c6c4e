-- Counts one failed login, unless its counters are full: the check and
-- the add are one atomic step, so however many attempts run at once (on
-- any number of gateways), no more than the limit are ever counted, and
-- so answered 401. Counters: throttle.lua. Each log is trimmed to the
-- window and to its newest `limit` entries (more never change a
-- decision), and expires with the window.
-- Arguments: A.keys (keys.lua), A.login_key and A.login_sid (the login's
-- key under the namespace's rule and its SID form), A.ip (the client
-- network), A.window (ms), A.login_limit, A.ip_limit, A.member (unique).
-- Reply: {counted (1) or not (0: a counter was at its limit), login-IP
-- count, IP count (both before this failure), ms until every count at
-- its limit is below it}.
local p = ARGV[1]
local keys_ok, keys_have = keys_hold(p, A.keys, false)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local now = now_ms()
local window = tonumber(A.window)
local login_limit, ip_limit = tonumber(A.login_limit), tonumber(A.ip_limit)
local login_key, ip_key = counter_keys(p, login_id(login_account(p, A.login_key, A.login_sid), A.login_key), A.ip)
local li, li_wait = failures(login_key, login_limit, now, window)
local ip, ip_wait = failures(ip_key, ip_limit, now, window)
if li >= login_limit or ip >= ip_limit then
  return {0, li, ip, math.max(li_wait, ip_wait)}
end
local function add(key, limit)
  redis.call('ZADD', key, now, A.member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  redis.call('PEXPIRE', key, window)
end
add(login_key, login_limit)
add(ip_key, ip_limit)
-- The networks with failures in their window, for a gateway that starts
-- listening to P changes (accountcache): until then it heard nothing.
local active = p .. 'thr:active'
redis.call('ZADD', active, now + window, A.ip)
redis.call('ZREMRANGEBYSCORE', active, '-inf', now)
redis.call('PUBLISH', p .. 'changes', 'f' .. window .. ':' .. A.ip)
return {1, li, ip, 0}
