-- Creates an organization unless its SID or (lower-cased) domain is taken.
-- Arguments: the guard (guard.lua), A.domain_key (the lower-cased domain)
-- and the organization's fields (ORGANIZATION); the keys (keys.lua), which
-- the namespace's first organization records.
local p = ARGV[1]
keys_hold(p, A.keys, true)
local org = p .. 'org:' .. A.sid
local domain = p .. 'orgdomain:' .. A.domain_key
if redis.call('EXISTS', org) == 1 or redis.call('EXISTS', domain) == 1 then
  return redis.error_reply('DUPLICATE')
end
local fields = {F.req, A.request}
for _, f in ipairs(ORGANIZATION) do
  table.insert(fields, f); table.insert(fields, A[f])
end
redis.call('HSET', org, unpack(fields))
redis.call('SET', domain, A.sid)
redis.call('ZADD', p .. 'orgs', 0, A.sid)
outbox(p, {F.op, 'organization', F.sid, A.sid, F.status, A.status})
return redis.call('HGETALL', org)
