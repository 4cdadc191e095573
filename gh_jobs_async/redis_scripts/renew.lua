-- A live worker's requests are still running. ARGV: lease ttl, maximum, lease ids...,
-- idle ttl. Only leases that still exist are renewed (XX): an expired one stays gone.
local ttl, maximum = tonumber(ARGV[1]), tonumber(ARGV[2])
for i = 3, #ARGV - 1 do
  redis.call('ZADD', leases_key, 'XX', now + ttl, ARGV[i])
end
return reply('ok', 0, maximum)
