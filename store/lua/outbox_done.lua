-- Settles one outbox entry (A.id) that the mirror delivered or, with
-- A.reason, could never deliver, in one atomic step: a dead letter keeps
-- the entry's fields, with its id, the reason, the kind (A[DL.kind]) and
-- when, in P outbox:dead; its sealed password only with A[DL.keep] (the
-- side effect that needs it did not run: a retry appends it again). With
-- A[DL.mark], the entry's account is marked in P DL.conflicts with the
-- dead letter's id, unless marked already, so that the mirror writes
-- nothing more of it while the dead letter stands (outbox_dead.lua lifts
-- the mark). The entry is
-- acknowledged in the consumer group A.group and deleted (its sealed
-- password with it); each account it wrote loses its pending mark (F.mp)
-- unless a later change set it; the
-- counts in P mirror go up, and for a delivery its latency (from the
-- entry's id to now, in ms) is added to a histogram there: latency_le_<ms>
-- per bucket (LATENCY_BUCKETS, then 'inf'), latency_ms_sum, last_latency_ms. Only the lease holder (A.holder) settles:
-- another gets LEASE and nothing is written. An entry already settled
-- changes nothing. Returns 1 when it settled the entry, 0 when it was gone.
local p, id = ARGV[1], A.id
local stream = p .. 'outbox'
if redis.call('GET', p .. 'mirror:lease') ~= A.holder then return redis.error_reply('LEASE') end
local found = redis.call('XRANGE', stream, id, id)
redis.call('XACK', stream, A.group, id)
if #found == 0 then return 0 end
local fields = found[1][2]
local sid, sids = nil, ''
local kept = {DL.entry, id}
for i = 1, #fields, 2 do
  if fields[i] == F.sid then sid = fields[i + 1] end
  if fields[i] == F.sids then sids = fields[i + 1] end
  if fields[i] ~= F.secret or A[DL.keep] == '1' then
    table.insert(kept, fields[i]); table.insert(kept, fields[i + 1])
  end
end
local t = redis.call('TIME')
local now = t[1] .. string.format('%03d', math.floor(tonumber(t[2]) / 1000))
if A.reason then
  if A[DL.kind] then table.insert(kept, DL.kind); table.insert(kept, A[DL.kind]) end
  table.insert(kept, F.reason); table.insert(kept, A.reason)
  local dead = redis.call('XADD', p .. 'outbox:dead', '*', unpack(kept))
  if A[DL.mark] == '1' and sid then redis.call('HSETNX', p .. DL.conflicts, sid, dead) end
  redis.call('HINCRBY', p .. 'mirror', 'dead', 1)
else
  local ms = math.max(0, tonumber(now) - tonumber(string.match(id, '^(%d+)')))
  local bucket = 'inf'
  for _, le in ipairs(LATENCY_BUCKETS) do
    if ms <= le then bucket = le; break end
  end
  redis.call('HINCRBY', p .. 'mirror', 'delivered', 1)
  redis.call('HINCRBY', p .. 'mirror', 'latency_le_' .. bucket, 1)
  redis.call('HINCRBY', p .. 'mirror', 'latency_ms_sum', ms)
  redis.call('HSET', p .. 'mirror', 'last_latency_ms', ms)
end
redis.call('HSET', p .. 'mirror', 'last_settled', now, 'last_entry', id)
redis.call('XDEL', stream, id)
local settled = {}
for sid in string.gmatch(sids, '[^,]+') do
  local key = p .. 'acct:' .. sid
  if redis.call('HGET', key, F.mp) == id then
    redis.call('HDEL', key, F.mp)
    settled[#settled + 1] = sid
  end
end
-- cached accounts would otherwise go on waiting for a delivered change
if #settled > 0 then changed(p, settled) end
return 1
