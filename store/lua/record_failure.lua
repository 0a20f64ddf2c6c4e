-- Records one failed login in the sliding-window logs of its (login,
-- client IP) pair and of its client IP: a sorted set of failure times per
-- key, trimmed to the window and to the newest `limit` entries (more never
-- change a decision), expiring with the window.
-- Arguments: A.login_key, A.ip_key, A.window (ms), A.login_limit,
-- A.ip_limit, A.member (unique), A.ip (the client IP of A.ip_key).
local p = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(A.window)
local function record(key, limit)
  key = p .. key
  redis.call('ZADD', key, now, A.member)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  redis.call('PEXPIRE', key, window)
end
record(A.login_key, tonumber(A.login_limit))
record(A.ip_key, tonumber(A.ip_limit))
-- The IPs with failures in their window, for a gateway that starts
-- listening to P changes (accountcache): until then it heard nothing.
local active = p .. 'thr:active'
redis.call('ZADD', active, now + window, A.ip)
redis.call('ZREMRANGEBYSCORE', active, '-inf', now)
redis.call('PUBLISH', p .. 'changes', 'f' .. window .. ':' .. A.ip)
return 1
