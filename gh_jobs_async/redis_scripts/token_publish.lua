-- A shared installation token (no common.lua): store it until it expires, release the lock.
-- KEYS: token hash, lock. ARGV: token, expires_at, minted_at, fingerprint, ttl ms, owner.
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'token', ARGV[1], 'expires_at', ARGV[2], 'minted_at', ARGV[3],
  'id', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if redis.call('GET', KEYS[2]) == ARGV[6] then
  redis.call('DEL', KEYS[2])
end
return 1
