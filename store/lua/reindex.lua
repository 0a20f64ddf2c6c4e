-- Re-keys the e-mail and friendly-name indexes of a whole namespace under
-- another comparison rule, or from the old layout, in one atomic step: no
-- lookup ever sees half of it (keys.go). The gateway read every account
-- and made the new keys; this script checks that nothing changed since.
-- Arguments: A.from, the P keys the namespace held when read ('1:exact'
-- when absent); A.keys, the new ones; A.rows, per account <length>:<bytes>
-- of sid, e-mail address, friendly name (as read), their new keys; A.fields,
-- the reservations' new e-mail keys and SIDs, the same way.
-- Fails with STALE when the namespace changed since it was read.
local p = ARGV[1]
if (redis.call('GET', p .. 'keys') or '1:exact') ~= A.from then return redis.error_reply('STALE') end

local rows = split(A.rows)
-- every account read: as many as the organizations hold
local total = 0
for _, org in ipairs(redis.call('ZRANGE', p .. 'orgs', 0, -1)) do
  total = total + redis.call('ZCARD', p .. 'orgacc:' .. org)
end
if total * 5 ~= #rows then return redis.error_reply('STALE') end

local oldlayout = string.sub(A.from, 1, 2) == '1:'
for i = 1, #rows, 5 do
  local sid, email, fname, ek, nk = rows[i], rows[i + 1], rows[i + 2], rows[i + 3], rows[i + 4]
  local acct = p .. 'acct:' .. sid
  local h = redis.call('HMGET', acct, F.email, F.fname, F.ek, F.nk)
  if h[1] ~= email or h[2] ~= fname then return redis.error_reply('STALE') end
  -- only what changes is written: re-keying costs Redis little where the
  -- rule keeps most keys as they are
  local oldek, oldnk = h[3] or email, h[4] or fname
  if oldlayout then
    if redis.call('GET', p .. 'email:' .. email) == sid then redis.call('DEL', p .. 'email:' .. email) end
    redis.call('ZADD', p .. 'emails:' .. ek, 0, sid)
  elseif oldek ~= ek then
    redis.call('ZREM', p .. 'emails:' .. oldek, sid)
    redis.call('ZADD', p .. 'emails:' .. ek, 0, sid)
  end
  if oldnk ~= nk then
    redis.call('ZREM', p .. 'fname:' .. oldnk, sid)
    redis.call('ZADD', p .. 'fname:' .. nk, 0, sid)
  end
  if h[3] ~= (ek ~= email and ek or nil) then
    if ek ~= email then redis.call('HSET', acct, F.ek, ek) else redis.call('HDEL', acct, F.ek) end
  end
  if h[4] ~= (nk ~= fname and nk or nil) then
    if nk ~= fname then redis.call('HSET', acct, F.nk, nk) else redis.call('HDEL', acct, F.nk) end
  end
end

redis.call('DEL', p .. 'rsv:email')
local rsv = split(A.fields)
for i = 1, #rsv, 2 do redis.call('HSET', p .. 'rsv:email', rsv[i], rsv[i + 1]) end

redis.call('SET', p .. 'keys', A.keys)
changed_all(p)
return #rows / 5
