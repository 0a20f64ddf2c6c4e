#!lua flags=no-writes
-- Returns every hash whose id is a member of a sorted set, in set order
-- (byte order of the ids), in one round trip.
-- ARGV[1] prefix, ARGV[2] sorted set key (without prefix), ARGV[3] hash kind.
local p = ARGV[1]
local out = {}
for _, id in ipairs(redis.call('ZRANGE', p .. ARGV[2], 0, -1)) do
  local h = redis.call('HGETALL', p .. ARGV[3] .. ':' .. id)
  if #h > 0 then table.insert(out, h) end
end
return out
