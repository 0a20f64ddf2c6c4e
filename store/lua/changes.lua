-- Part of every script's prelude (fields.go). Every change to what an
-- account lookup can return is published on the channel P changes, in the
-- same atomic step as the change, so that gateways caching resolved
-- accounts (store/accountcache) drop what it made stale. Messages:
--   'a' then each changed identifier as <length>:<bytes> (SIDs, e-mail
--       addresses, friendly names: whatever a lookup may have used)
--   '*' everything may have changed (imports; changes too large to list)
--   'f' <window ms> ':' <client IP>: a failed login was recorded from the
--       IP, counted for the next <window ms> (record_failure.lua)
-- and the gateways' own heartbeats ('h', accountcache).
local MAX_CHANGED = 1000

local function changed(p, ids)
  local msg = '*'
  if #ids <= MAX_CHANGED then
    local parts = {'a'}
    for _, id in ipairs(ids) do
      if id and id ~= '' then parts[#parts + 1] = #id .. ':' .. id end
    end
    msg = table.concat(parts)
  end
  redis.call('PUBLISH', p .. 'changes', msg)
end

local function changed_all(p)
  redis.call('PUBLISH', p .. 'changes', '*')
end
