-- The mirror's delivery lease (outbox.go): one gateway at a time delivers
-- the outbox. A.holder takes the lease when nobody holds it, or keeps it
-- when it holds it, for A.ttl ms; anyone else gets 0. With A.reason
-- 'drop', the holder gives it up instead. Returns 1 when A.holder holds
-- the lease afterwards (0 after a drop).
local lease = ARGV[1] .. 'mirror:lease'
local cur = redis.call('GET', lease)
if A.reason == 'drop' then
  if cur == A.holder then redis.call('DEL', lease) end
  return 0
end
if cur == A.holder then
  redis.call('PEXPIRE', lease, A.ttl)
  return 1
end
if cur then return 0 end
redis.call('SET', lease, A.holder, 'PX', A.ttl)
return 1
