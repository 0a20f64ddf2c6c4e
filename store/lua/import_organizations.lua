-- Imports organizations from RestComm, as import_accounts.lua does
-- accounts: each with its domain index entry (the lower-cased domain) and
-- its place in the set of organizations, and the same outcomes (imported,
-- unchanged, updated, conflict:<fields>, taken:<sid> when another
-- organization has the domain here). The seeded default organization
-- (never updated since seeding) counts as the last import.
-- KEYS[1] any key of the namespace. ARGV[1] prefix; ARGV[2] '1' to
-- overwrite conflicts; ARGV[3] '1' for a dry run; ARGV[4] the default
-- organization's SID; ARGV[5] n, the number of fields; ARGV[6 .. 5+n]
-- their names in the hash; then per organization its lower-cased domain
-- and n values.
local p, overwrite, dry, default = ARGV[1], ARGV[2] == '1', ARGV[3] == '1', ARGV[4]
local n = tonumber(ARGV[5])
local names, fetch = {}, {}
for i = 1, n do
  names[i] = ARGV[5 + i]
  fetch[i] = names[i]
end
fetch[n + 1] = 'imp'
fetch[n + 2] = 'domain'

local function fingerprint(vals)
  local parts = {}
  for i = 1, n do parts[i] = #vals[i] .. ':' .. vals[i] end
  return redis.sha1hex(table.concat(parts, ','))
end

local out = {}
local base, step = 5 + n, n + 1
for k = 0, (#ARGV - base) / step - 1 do
  local at = base + k * step
  local domain = ARGV[at + 1]
  local vals, o = {}, {}
  for i = 1, n do
    vals[i] = ARGV[at + 1 + i]
    o[names[i]] = vals[i]
  end
  local key = p .. 'org:' .. o.sid
  local cur = redis.call('HMGET', key, unpack(fetch))
  local want = fingerprint(vals)
  local exists = false
  for i = 1, n do if cur[i] then exists = true end end
  local owner = redis.call('GET', p .. 'orgdomain:' .. domain)
  local result
  local function write(old)
    if old and old ~= domain and redis.call('GET', p .. 'orgdomain:' .. old) == o.sid then
      redis.call('DEL', p .. 'orgdomain:' .. old)
    end
    local fields = {}
    for i = 1, n do
      fields[2 * i - 1] = names[i]
      fields[2 * i] = vals[i]
    end
    fields[2 * n + 1] = 'imp'
    fields[2 * n + 2] = want
    redis.call('HSET', key, unpack(fields))
    redis.call('SET', p .. 'orgdomain:' .. domain, o.sid)
    redis.call('ZADD', p .. 'orgs', 0, o.sid)
  end
  if not exists then
    if owner and owner ~= o.sid then
      result = 'taken:' .. owner
    else
      if not dry then write(nil) end
      result = 'imported'
    end
  else
    local cv, c = {}, {}
    for i = 1, n do
      cv[i] = cur[i] or ''
      c[names[i]] = cv[i]
    end
    local have, imp = fingerprint(cv), cur[n + 1]
    if have == want then
      if imp ~= want and not dry then redis.call('HSET', key, 'imp', want) end
      result = 'unchanged'
    else
      local baseline = imp == have or (not imp and o.sid == default and c.created == c.updated)
      if not baseline and not overwrite then
        local diff = {}
        for i = 1, n do if cv[i] ~= vals[i] then diff[#diff + 1] = names[i] end end
        result = 'conflict:' .. table.concat(diff, ',')
      elseif owner and owner ~= o.sid then
        result = 'taken:' .. owner
      else
        if not dry then write(string.lower((string.gsub(cur[n + 2] or '', '%.$', '')))) end
        result = 'updated'
      end
    end
  end
  out[#out + 1] = result
end
return out
