-- Leases for up to n waiters of one client, in their order. ARGV: maximum in flight,
-- requests per window (0: no pacing), window span (window + margin, s), lease ttl (s),
-- n, n lease ids, idle ttl (s). `granted` says how many of the first ids got a lease;
-- the reason is why the next one did not (pause, primary, busy, window), or ok.
local maximum, budget = tonumber(ARGV[1]), tonumber(ARGV[2])
local span, ttl, n = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', done_key, '-inf', now - span)

local pause = num('pause_until', 0)
if pause > now then return reply('pause', pause - now, maximum, 0) end
local primary = num('primary_reset', 0)
if primary > now then return reply('primary', primary - now, maximum, 0) end
local limit = math.min(num('limit', maximum), maximum)
local in_flight = redis.call('ZCARD', leases_key)
local done = budget > 0 and redis.call('ZCARD', done_key) or 0
local granted = 0
for i = 1, n do
  if in_flight >= limit then return reply('busy', 0, maximum, granted) end
  if budget > 0 and in_flight + done >= budget then
    local oldest = redis.call('ZRANGE', done_key, 0, 0, 'WITHSCORES')
    if oldest[2] then
      return reply('window', tonumber(oldest[2]) + span - now, maximum, granted)
    end
    return reply('busy', 0, maximum, granted)  -- the whole window is in flight
  end
  redis.call('ZADD', leases_key, now + ttl, ARGV[5 + i])
  in_flight = in_flight + 1
  granted = granted + 1
end
return reply('ok', 0, maximum, granted)
