-- Finishes a seeding: the marker's 'seeding' becomes 'seeded'. Nothing is
-- written when the marker is gone (the namespace was lost meanwhile).
-- Returns the marker's state, or false when there is no marker.
-- KEYS[1] P meta.
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'seeding' then
  redis.call('HSET', KEYS[1], 'state', 'seeded')
  return 'seeded'
end
return state
