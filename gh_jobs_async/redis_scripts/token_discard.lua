-- Compare-and-delete of a shared token (no common.lua): only the one GitHub refused.
-- KEYS: token hash. ARGV: fingerprint of the refused token.
if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
