-- ARGV: lease id, maximum in flight, requests per window (0: no pacing), window span
-- (window + margin, s), lease ttl (s), idle ttl (s).
local id, maximum, budget = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local span, ttl = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', done_key, '-inf', now - span)

local pause = num('pause_until', 0)
if pause > now then return reply('pause', pause - now, maximum) end
local primary = num('primary_reset', 0)
if primary > now then return reply('primary', primary - now, maximum) end
local in_flight = redis.call('ZCARD', leases_key)
if in_flight >= math.min(num('limit', maximum), maximum) then
  return reply('busy', 0, maximum)
end
if budget > 0 and in_flight + redis.call('ZCARD', done_key) >= budget then
  local oldest = redis.call('ZRANGE', done_key, 0, 0, 'WITHSCORES')
  if oldest[2] then return reply('window', tonumber(oldest[2]) + span - now, maximum) end
  return reply('busy', 0, maximum)  -- the whole window is in flight: wait for an answer
end
redis.call('ZADD', leases_key, now + ttl, id)
return reply('ok', 0, maximum)
