#!lua flags=no-writes
-- Resolves account identifiers and returns each account with its ancestor
-- chain, and the failed-login counts of the request, in one round trip.
-- It only reads (flags=no-writes via the Go side's read-only call).
-- ARGV[1]: key prefix; ARGV[2]: the keys the lookups were made under
-- (keys.lua); ARGV[3]: number of lookups n; then n quadruples (mode,
-- identifier, its key under the namespace's rule, its SID form):
--   login: e-mail address, else SID (authentication)
--   id:    the account an identifier in a path names. A SID-shaped
--          identifier (34 letters and digits) names an account by SID only;
--          one containing '@' by e-mail address, then friendly name, then
--          SID; anything else by friendly name, e-mail address, then SID.
--          RestComm tries friendly names first whatever the shape, so an
--          account could squat another's SID or e-mail address as its name
--          (docs/restcomm-contract.md, divergences).
-- Then, optionally, the failed-login counters to read (throttle.lua):
-- the login as sent, its key under the namespace's rule, its SID form, the
-- client network, the window in ms, the limit of each counter.
-- Reply: one {state, fields, ancestors} per lookup (state 0 missing, 1
-- found, 2 ambiguous: several accounts share the e-mail address or the
-- friendly name), then, when counters were given, {login-IP count, IP
-- count, ms until every count at its limit is below it}.
local p = ARGV[1]
local keys_ok, keys_have = keys_hold(p, ARGV[2], false)
if not keys_ok then return redis.error_reply('KEYS ' .. keys_have) end
local n = tonumber(ARGV[3])
local MAX_DEPTH = 16

local function bysid(sid)
  return redis.call('HGETALL', p .. 'acct:' .. sid)
end

-- 0 found nothing, 1 one account, 2 several: also one account and a row
-- RestComm holds that the gateway does not (a reserved e-mail address),
-- which RestComm's own lookup would find too
local function byindex(index, key)
  local sids = redis.call('ZRANGE', p .. index .. key, 0, 1)
  if #sids == 0 then return 0, {} end
  if #sids > 1 then return 2, {} end
  if index == 'emails:' and redis.call('HEXISTS', p .. 'rsv:email', key) == 1 then return 2, {} end
  return 1, bysid(sids[1])
end

local function sidshaped(s)
  return string.len(s) == 34 and string.find(s, '^%w+$') ~= nil
end

-- what each login looked up found, for its counters (throttle.lua)
local logins = {}

-- the account, or {}; and whether several matched
local function resolve(mode, id, key, sid)
  local found, h
  if mode == 'login' then
    local ambiguous
    h, ambiguous = login_account(p, key, sid)
    logins[id] = h
    return h, ambiguous
  end
  if sidshaped(sid) then return bysid(sid), false end
  local email = string.find(id, '@', 1, true) ~= nil
  if email then
    found, h = byindex('emails:', key)
    if found > 0 then return h, found == 2 end
  end
  found, h = byindex('fname:', key)
  if found > 0 then return h, found == 2 end
  if not email then
    found, h = byindex('emails:', key)
    if found > 0 then return h, found == 2 end
  end
  return bysid(sid), false
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
for i = 4, 3 + 4 * n, 4 do
  local h, ambiguous = resolve(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  if ambiguous then
    table.insert(reply, {2, {}, {}})
  elseif #h == 0 then
    table.insert(reply, {0, {}, {}})
  else
    table.insert(reply, {1, h, ancestors(h)})
  end
end

local c = 4 + 4 * n
if ARGV[c] then
  local login, key = ARGV[c], ARGV[c + 1]
  -- the login's own lookup above names its counters; failing that (a
  -- caller that did not look it up), the same lookup again
  local h = logins[login] or login_account(p, key, ARGV[c + 2])
  local login_key, ip_key = counter_keys(p, login_id(h, key), ARGV[c + 3])
  local now, window = now_ms(), tonumber(ARGV[c + 4])
  local li, li_wait = failures(login_key, tonumber(ARGV[c + 5]), now, window)
  local ip, ip_wait = failures(ip_key, tonumber(ARGV[c + 6]), now, window)
  table.insert(reply, {li, ip, math.max(li_wait, ip_wait)})
end
return reply
