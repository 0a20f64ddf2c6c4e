-- Replaces the namespace's reservations (keys.go): SIDs and e-mail
-- addresses RestComm's database holds that the gateway does not, which a
-- create must refuse (create_account.lua, taken.lua).
-- P rsv:sid   hash SID -> e-mail address, a newline, the reason
-- P rsv:email hash e-mail key -> SID
-- Arguments: A.keys (keys.lua); A.rows, per reservation <length>:<bytes>
-- of its SID, e-mail address, reason and e-mail key.
local p = ARGV[1]
local ok, have = keys_hold(p, A.keys, true)
if not ok then return redis.error_reply('KEYS ' .. have) end
redis.call('DEL', p .. 'rsv:sid', p .. 'rsv:email')
local rows = split(A.rows)
for i = 1, #rows, 4 do
  redis.call('HSET', p .. 'rsv:sid', rows[i], rows[i + 1] .. '\n' .. rows[i + 2])
  if rows[i + 1] ~= '' then redis.call('HSET', p .. 'rsv:email', rows[i + 3], rows[i]) end
end
return #rows / 4
