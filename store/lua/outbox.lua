-- Follows guard.lua in every write script. In a mirrored namespace (its
-- outbox stream exists: the mirror's delivery worker creates it with its
-- consumer group, outbox.go), every change appends its entry to the outbox
-- in the same atomic step as the change itself, after every check has
-- passed: no change without its entry, no entry without its change.
-- entry holds the entry's fields (F.op first); the request's id and, when
-- the change carries one, its sealed password (A.secret) are added here.
-- sids are the accounts the change wrote: listed in the entry, and each
-- marked with the entry's id (F.mp) until the entry is delivered, so that
-- a request passed to RestComm can wait for its account's change. Returns
-- the entry's id, or false when the namespace is not mirrored.
local function outbox(p, entry, sids)
  local stream = p .. 'outbox'
  if redis.call('EXISTS', stream) == 0 then return false end
  table.insert(entry, F.req); table.insert(entry, A.request)
  if A.secret then table.insert(entry, F.secret); table.insert(entry, A.secret) end
  if sids then table.insert(entry, F.sids); table.insert(entry, table.concat(sids, ',')) end
  local id = redis.call('XADD', stream, '*', unpack(entry))
  for _, sid in ipairs(sids or {}) do
    redis.call('HSET', p .. 'acct:' .. sid, F.mp, id)
  end
  return id
end
