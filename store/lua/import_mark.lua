-- Marks a namespace as filled by an import (restcomm-gateway accounts
-- import), so that no gateway ever seeds it: see meta.lua for the marker.
-- ARGV[2] 'begin' (before anything is written): an unmarked namespace is
-- marked 'seeded' by the import, with nothing seeded; a marked one keeps
-- its marker. ARGV[2] 'end' (after the import): the marker records when
-- and from what the last import was ('imported', 'imported_from').
-- Returns the marker's state before the call, or 'none'.
-- KEYS[1] P meta; ARGV[3] now (RFC 3339); ARGV[4] by; ARGV[5] version;
-- ARGV[6] schema; ARGV[7] the source, without secrets.
local meta = KEYS[1]
local state = redis.call('HGET', meta, 'state')
if ARGV[2] == 'begin' then
  if not state then
    redis.call('HSET', meta, 'state', 'seeded', 'seeded', ARGV[3], 'by', ARGV[4],
      'version', ARGV[5], 'schema', ARGV[6])
  end
else
  redis.call('HSET', meta, 'imported', ARGV[3], 'imported_from', ARGV[7])
end
return state or 'none'
