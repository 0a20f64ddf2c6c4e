-- Retries (A[DL.retry] = '1') or drops the dead letters A[DL.ids]
-- (comma-separated, oldest first), all or none: when one of them is not
-- in P outbox:dead, nothing changes and the reply is the error
-- UNKNOWN <their ids>. A retry appends each entry to the outbox again
-- with the fields it was first appended with (its sealed password too,
-- when the dead letter kept it), marks the accounts it writes as pending
-- it (F.mp, as outbox.lua does), and deletes the dead letter; only in a
-- mirrored namespace (NOTMIRRORED otherwise: without its consumer group
-- nobody would deliver it). A dead letter that leaves the stream lifts its
-- account's conflict mark (P DL.conflicts) when the mark is its own.
-- Returns the new entries' ids (a retry) or how many were dropped.
local p = ARGV[1]
local dead, stream, marks = p .. 'outbox:dead', p .. 'outbox', p .. DL.conflicts
local retry = A[DL.retry] == '1'
if retry and redis.call('EXISTS', stream) == 0 then return redis.error_reply('NOTMIRRORED') end
local letters, unknown, seen = {}, {}, {}
for id in string.gmatch(A[DL.ids] or '', '[^,]+') do
  if not seen[id] then
    seen[id] = true
    local found = redis.call('XRANGE', dead, id, id)
    if #found == 0 then unknown[#unknown + 1] = id else letters[#letters + 1] = found[1] end
  end
end
if #unknown > 0 then return redis.error_reply('UNKNOWN ' .. table.concat(unknown, ',')) end
local appended, pending = {}, {}
for _, letter in ipairs(letters) do
  local id, fields = letter[1], letter[2]
  local entry, sid, sids = {}, nil, ''
  for i = 1, #fields, 2 do
    local k, v = fields[i], fields[i + 1]
    if k == F.sid then sid = v elseif k == F.sids then sids = v end
    if k ~= DL.entry and k ~= DL.kind and k ~= F.reason then
      entry[#entry + 1] = k; entry[#entry + 1] = v
    end
  end
  if retry then
    local nid = redis.call('XADD', stream, '*', unpack(entry))
    for s in string.gmatch(sids, '[^,]+') do
      local key = p .. 'acct:' .. s
      if redis.call('EXISTS', key) == 1 then
        redis.call('HSET', key, F.mp, nid)
        pending[#pending + 1] = s
      end
    end
    appended[#appended + 1] = nid
  end
  redis.call('XDEL', dead, id)
  if sid and redis.call('HGET', marks, sid) == id then redis.call('HDEL', marks, sid) end
end
-- cached accounts learn that a change of theirs is pending again
if #pending > 0 then changed(p, pending) end
if retry then return appended end
return #letters
