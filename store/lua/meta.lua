-- Decides what a namespace is and marks it, in one atomic step. P meta is a
-- hash that says the namespace was seeded: 'state' ('seeding' while the
-- defaults are being created, then 'seeded'), 'seeded' (when it was first
-- marked), 'by', 'version', 'schema' and, for a namespace marked over data
-- it already held, 'adopted'.
--
--   marker present           -> its state ('seeding' or 'seeded'); nothing written
--   data, no marker          -> marked 'seeded' and 'adopted': data written
--                               before namespaces were marked
--   empty, ARGV[2] = 'check' -> 'empty'; nothing written
--   empty, ARGV[2] = 'seed'  -> marked 'seeding' and 'claimed': the caller
--                               creates the defaults, then finishes (meta_done.lua)
--
-- The namespace holds data when it has an organization (every account
-- belongs to one) or the default administrator.
-- KEYS[1] P meta; ARGV[1] prefix P; ARGV[2] 'seed' or 'check'; ARGV[3] now
-- (RFC 3339); ARGV[4] by; ARGV[5] version; ARGV[6] schema; ARGV[7] default
-- administrator SID.
local meta, p = KEYS[1], ARGV[1]
local state = redis.call('HGET', meta, 'state')
if state then return state end
local fields = {'seeded', ARGV[3], 'by', ARGV[4], 'version', ARGV[5], 'schema', ARGV[6]}
if redis.call('EXISTS', p .. 'orgs', p .. 'acct:' .. ARGV[7]) > 0 then
  redis.call('HSET', meta, 'state', 'seeded', 'adopted', '1', unpack(fields))
  return 'adopted'
end
if ARGV[2] ~= 'seed' then return 'empty' end
redis.call('HSET', meta, 'state', 'seeding', unpack(fields))
return 'claimed'
