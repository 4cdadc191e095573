-- ARGV: lease id, sent (1: the request went out, it stays counted for one window),
-- pacing on (1/0), maximum, idle ttl.
local id, sent, pacing, maximum = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
redis.call('ZREM', leases_key, id)
if pacing == '1' and sent == '1' then
  redis.call('ZADD', done_key, now, id)
end
return reply('ok', 0, maximum)
