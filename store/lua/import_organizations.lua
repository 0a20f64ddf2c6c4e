-- Imports organizations from RestComm, as import_accounts.lua does
-- accounts: each with its domain index entry (the lower-cased domain) and
-- its place in the set of organizations, and the same outcomes (imported,
-- unchanged, updated, conflict:<fields>, taken:<sid> when another
-- organization has the domain here). The seeded default organization
-- (never updated since seeding) counts as the last import.
-- Arguments: see import.lua (A.default: the default organization's SID;
-- each organization's values are preceded by its lower-cased domain); the
-- keys (keys.lua), which the namespace's first organization records.
keys_hold(p, A.keys, not dry)
local out = {}
for k = 0, #values / (n + 1) - 1 do
  local at = k * (n + 1)
  local domain = values[at + 1]
  local vals, o = {}, {}
  for i = 1, n do
    vals[i] = values[at + 1 + i]
    o[names[i]] = vals[i]
  end
  local key = p .. 'org:' .. o.sid
  local cur = redis.call('HMGET', key, unpack(fetch))
  local old = redis.call('HGET', key, 'domain')
  local want = fingerprint(vals)
  local verdict = judge(key, cur, vals, want)
  local result = verdict
  if verdict == 'new' or verdict == 'update' then
    local owner = redis.call('GET', p .. 'orgdomain:' .. domain)
    if owner and owner ~= o.sid then
      result = 'taken:' .. owner
    else
      if not dry then
        old = old and string.lower((string.gsub(old, '%.$', '')))
        if old and old ~= domain and redis.call('GET', p .. 'orgdomain:' .. old) == o.sid then
          redis.call('DEL', p .. 'orgdomain:' .. old)
        end
        redis.call('HSET', key, unpack(hash(vals, want)))
        redis.call('SET', p .. 'orgdomain:' .. domain, o.sid)
        redis.call('ZADD', p .. 'orgs', 0, o.sid)
      end
      result = verdict == 'new' and 'imported' or 'updated'
    end
  end
  out[#out + 1] = result
end
return out
