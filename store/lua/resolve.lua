-- Resolves account identifiers the ways RestComm does and returns each
-- account with its ancestor chain, in one round trip.
-- ARGV[1]: key prefix; then pairs (mode, identifier):
--   login: e-mail address, else SID (authentication)
--   get:   SID if SID-shaped, else friendly name, e-mail, SID (GET one)
--   op:    SID, else friendly name, e-mail, SID (update, migrate)
--   name:  friendly name, e-mail, SID (sub-resource paths)
-- Reply per pair: {state, fields, ancestors}; state 0 missing, 1 found,
-- 2 ambiguous (several accounts share the friendly name).
local p = ARGV[1]
local MAX_DEPTH = 16

local function bysid(sid)
  return redis.call('HGETALL', p .. 'acct:' .. sid)
end

local function byemail(email)
  local sid = redis.call('GET', p .. 'email:' .. email)
  if sid then return bysid(sid) end
  return {}
end

-- 0 found nothing, 1 one account, 2 several
local function byname(name)
  local sids = redis.call('ZRANGE', p .. 'fname:' .. name, 0, 1)
  if #sids == 0 then return 0, {} end
  if #sids > 1 then return 2, {} end
  return 1, bysid(sids[1])
end

local function sidshaped(s)
  return string.len(s) == 34 and string.find(s, '^%w+$') ~= nil
end

local function resolve(mode, id)
  if mode == 'login' then
    local h = byemail(id)
    if #h == 0 then h = bysid(id) end
    return h, false
  end
  if mode ~= 'name' and sidshaped(id) then
    local h = bysid(id)
    if #h > 0 or mode == 'get' then return h, false end
  end
  local n, h = byname(id)
  if n == 2 then return {}, true end
  if n == 1 then return h, false end
  h = byemail(id)
  if #h == 0 then h = bysid(id) end
  return h, false
end

local function field(h, name)
  for i = 1, #h, 2 do
    if h[i] == name then return h[i + 1] end
  end
  return ''
end

-- parents from the nearest up, stopping at a missing account or a cycle
local function ancestors(h)
  local out, seen = {}, {}
  seen[field(h, 'sid')] = true
  local parent = field(h, 'parent')
  while parent ~= '' and not seen[parent] and #out < MAX_DEPTH do
    table.insert(out, parent)
    seen[parent] = true
    parent = redis.call('HGET', p .. 'acct:' .. parent, 'parent') or ''
  end
  return out
end

local reply = {}
for i = 2, #ARGV - 1, 2 do
  local h, ambiguous = resolve(ARGV[i], ARGV[i + 1])
  if ambiguous then
    table.insert(reply, {2, {}, {}})
  elseif #h == 0 then
    table.insert(reply, {0, {}, {}})
  else
    table.insert(reply, {1, h, ancestors(h)})
  end
end
return reply
