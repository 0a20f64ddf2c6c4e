-- Part of the prelude of every script that reads or writes the e-mail and
-- friendly-name indexes (keys.go). Their keys are made by the gateway
-- under the namespace's comparison rule, so a script runs only when it was
-- given keys made under the rule the namespace holds: P keys,
-- '<layout>:<rule>' (absent: layout 1, exact, from before rules were
-- recorded). In a namespace that holds nothing yet, a writer records its
-- own. A mismatch fails with 'KEYS <what the namespace holds>' and touches
-- nothing: the gateway reloads the rule and makes its keys again.
local function keys_hold(p, want, writes)
  local have = redis.call('GET', p .. 'keys')
  if have == want then return true end
  if not have and redis.call('EXISTS', p .. 'orgs') == 0 then
    if writes then redis.call('SET', p .. 'keys', want) end
    return true
  end
  return false, have or '1:exact'
end

-- index_account files an account under e-mail key ek and friendly-name
-- key nk, and keeps each key in the hash when it differs from the value,
-- so that a later change finds the entry to remove (account_keys).
local function index_account(p, sid, email, fname, ek, nk)
  local acct = p .. 'acct:' .. sid
  redis.call('ZADD', p .. 'emails:' .. ek, 0, sid)
  redis.call('ZADD', p .. 'fname:' .. nk, 0, sid)
  if ek ~= email then redis.call('HSET', acct, F.ek, ek) else redis.call('HDEL', acct, F.ek) end
  if nk ~= fname then redis.call('HSET', acct, F.nk, nk) else redis.call('HDEL', acct, F.nk) end
end

-- the e-mail and friendly-name keys an account is filed under
local function account_keys(p, sid)
  local h = redis.call('HMGET', p .. 'acct:' .. sid, F.email, F.fname, F.ek, F.nk)
  return h[3] or h[1], h[4] or h[2]
end

-- split reads values sent as <length>:<bytes> one after another.
local function split(s)
  local out, at = {}, 1
  while at <= #s do
    local colon = string.find(s, ':', at, true)
    local len = tonumber(string.sub(s, at, colon - 1))
    out[#out + 1] = string.sub(s, colon + 1, colon + len)
    at = colon + len + 1
  end
  return out
end
