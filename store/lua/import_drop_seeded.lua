-- Removes the seeded default administrator (password RestComm) when an
-- import brought none: only if it is exactly as seeding left it (no import
-- fingerprint, never updated, uninitialized, RestComm's shipped token), so
-- that the gateway holds no account the source does not have. Returns 1
-- when it removed it.
-- KEYS[1] any key of the namespace; ARGV[1] prefix; ARGV[2] the default
-- administrator's SID; ARGV[3] its shipped token.
local p, sid = ARGV[1], ARGV[2]
local key = p .. 'acct:' .. sid
local h = redis.call('HMGET', key, 'imp', 'created', 'updated', 'status', 'token', 'email', 'fname', 'org', 'parent')
if not h[2] or h[1] or h[2] ~= h[3] or h[4] ~= 'uninitialized' or h[5] ~= ARGV[3] then return 0 end
if redis.call('EXISTS', p .. 'children:' .. sid) == 1 then return 0 end
local ek, nk = account_keys(p, sid)
redis.call('DEL', key)
redis.call('ZREM', p .. 'emails:' .. ek, sid)
redis.call('ZREM', p .. 'fname:' .. nk, sid)
redis.call('ZREM', p .. 'orgacc:' .. h[8], sid)
if h[9] and h[9] ~= '' then redis.call('ZREM', p .. 'children:' .. h[9], sid) end
-- gateways caching accounts drop them all (changes.lua)
redis.call('PUBLISH', p .. 'changes', '*')
return 1
