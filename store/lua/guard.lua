-- Prepended to every write script. A write is made only if the caller it
-- was decided for is still as the policy saw it: ARGV[2] its SID ('' for
-- writes no caller asked for: seeding), ARGV[3..5] its status, auth token
-- and role then. Anything else fails with STALE and writes nothing; the
-- gateway decides again on the current state. ARGV[6] is the id of the
-- request that asks for the write, which the script stores with what it
-- changed ('req'), so that a gateway that lost the reply can tell whether
-- its write was applied.
local function guard_holds(p)
  if ARGV[2] == '' then return true end
  local cur = redis.call('HMGET', p .. 'acct:' .. ARGV[2], 'status', 'token', 'role')
  return cur[1] == ARGV[3] and cur[2] == ARGV[4] and cur[3] == ARGV[5]
end
if not guard_holds(ARGV[1]) then return redis.error_reply('STALE') end
