-- Records one failed login in the sliding-window logs of its (login,
-- client IP) pair and of its client IP: a sorted set of failure times per
-- key, trimmed to the window and to the newest `limit` entries (more never
-- change a decision), expiring with the window.
-- ARGV[1] prefix, ARGV[2] login-IP key, ARGV[3] IP key, ARGV[4] window in
-- ms, ARGV[5] login-IP limit, ARGV[6] IP limit, ARGV[7] a unique member.
local p = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[4])
local function record(key, limit)
  key = p .. key
  redis.call('ZADD', key, now, ARGV[7])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  redis.call('ZREMRANGEBYRANK', key, 0, -(limit + 1))
  redis.call('PEXPIRE', key, window)
end
record(ARGV[2], tonumber(ARGV[5]))
record(ARGV[3], tonumber(ARGV[6]))
return 1
