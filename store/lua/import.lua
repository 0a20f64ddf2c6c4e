-- Begins import_accounts.lua and import_organizations.lua (after the
-- prelude of fields.go): their arguments, and how both judge an entry.
-- Arguments: A.fields, the names of the hash fields imported, comma-
-- separated; A.rows, the entries' values, each as <length>:<bytes>, those
-- of one entry in A.fields order (organizations: each preceded by its
-- lower-cased domain); A.overwrite and A.dry when set; A.default, the SID
-- of the seeded default entry (administrator, organization).
local p = ARGV[1]
local overwrite, dry = A.overwrite ~= nil, A.dry ~= nil
local names, fetch = {}, {}
for name in string.gmatch(A.fields, '[^,]+') do
  names[#names + 1] = name
  fetch[#fetch + 1] = name
end
local n = #names
fetch[n + 1] = 'imp'

local values = split(A.rows)

-- what an import wrote, remembered in the hash's 'imp'
local function fingerprint(vals)
  local parts = {}
  for i = 1, n do parts[i] = #vals[i] .. ':' .. vals[i] end
  return redis.sha1hex(table.concat(parts, ','))
end

-- the hash of an entry as the source has it, with its fingerprint
local function hash(vals, fp)
  local fields = {}
  for i = 1, n do
    fields[2 * i - 1] = names[i]
    fields[2 * i] = vals[i]
  end
  fields[2 * n + 1] = 'imp'
  fields[2 * n + 2] = fp
  return fields
end

-- judge compares an entry as the source has it (vals, fingerprint want)
-- with what key holds (cur: HMGET of fetch). It answers 'new' (nothing
-- there), 'unchanged' (the same: its fingerprint is recorded when it
-- lacked one), 'update' (written by the last import, or by seeding and
-- never updated since, or overwrite) or 'conflict:<fields>' (changed
-- here), and what key holds, by field name.
local function judge(key, cur, vals, want)
  local exists = false
  for i = 1, n do if cur[i] then exists = true end end
  if not exists then return 'new', {} end
  local c, cv = {}, {}
  for i = 1, n do
    cv[i] = cur[i] or ''
    c[names[i]] = cv[i]
  end
  local have, imp = fingerprint(cv), cur[n + 1]
  if have == want then
    if imp ~= want and not dry then redis.call('HSET', key, 'imp', want) end
    return 'unchanged', c
  end
  local seeded = not imp and c.sid == A.default and c.created == c.updated
  if imp == have or seeded or overwrite then return 'update', c end
  local diff = {}
  for i = 1, n do if cv[i] ~= vals[i] then diff[#diff + 1] = names[i] end end
  return 'conflict:' .. table.concat(diff, ','), c
end
