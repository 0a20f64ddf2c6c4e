-- Follows the prelude of every write script. A write is made only if the
-- caller it was decided for is still as the policy saw it: A.caller its
-- SID ('' for writes no caller asked for: seeding), A.caller_status,
-- A.caller_token and A.caller_role as they were. Anything else fails with
-- STALE and writes nothing; the gateway decides again on the current
-- state. A.request is the id of the request that asks for the write, which
-- the script stores with what it changed (F.req), so that a gateway that
-- lost the reply can tell whether its write was applied.
local function guard_holds(p)
  if A.caller == '' then return true end
  local cur = redis.call('HMGET', p .. 'acct:' .. A.caller, F.status, F.token, F.role)
  return cur[1] == A.caller_status and cur[2] == A.caller_token and cur[3] == A.caller_role
end
if not guard_holds(ARGV[1]) then return redis.error_reply('STALE') end
