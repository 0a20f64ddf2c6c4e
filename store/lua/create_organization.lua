-- Creates an organization unless its SID or (lower-cased) domain is taken.
-- ARGV[1] prefix, ARGV[2..6] the guard and request id (guard.lua), ARGV[7]
-- lower-cased domain, ARGV[8..] field/value pairs.
local p = ARGV[1]
local a = {}
for i = 8, #ARGV - 1, 2 do a[ARGV[i]] = ARGV[i + 1] end
local org = p .. 'org:' .. a.sid
local domain = p .. 'orgdomain:' .. ARGV[7]
if redis.call('EXISTS', org) == 1 or redis.call('EXISTS', domain) == 1 then
  return redis.error_reply('DUPLICATE')
end
local fields = {'req', ARGV[6]}
for i = 8, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', org, unpack(fields))
redis.call('SET', domain, a.sid)
redis.call('ZADD', p .. 'orgs', 0, a.sid)
return redis.call('HGETALL', org)
