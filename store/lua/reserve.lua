-- Replaces the namespace's reservations (keys.go): SIDs and e-mail
-- addresses RestComm's database holds that the gateway does not, which a
-- create must refuse (create_account.lua, taken.lua).
-- P rsv:sid   hash SID (or, for a row without one, a NUL and its e-mail
--                  key) -> <length of the e-mail address>:<address><reason>
-- P rsv:email hash e-mail key -> SID
-- Arguments: A.keys (keys.lua); A.rows, per reservation <length>:<bytes>
-- of its SID, e-mail address, reason and e-mail key.
local p = ARGV[1]
local ok, have = keys_hold(p, A.keys, true)
if not ok then return redis.error_reply('KEYS ' .. have) end
redis.call('DEL', p .. 'rsv:sid', p .. 'rsv:email')
local rows = split(A.rows)
for i = 1, #rows, 4 do
  local sid, email, reason, ek = rows[i], rows[i + 1], rows[i + 2], rows[i + 3]
  local field = sid
  if sid == '' then field = '\0' .. ek end
  redis.call('HSET', p .. 'rsv:sid', field, #email .. ':' .. email .. reason)
  if email ~= '' then redis.call('HSET', p .. 'rsv:email', ek, sid) end
end
return #rows / 4
