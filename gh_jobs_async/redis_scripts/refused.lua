-- A secondary limit refused a request. ARGV: generation of its grant, wait (s), maximum,
-- idle ttl. The first refusal of a burst halves the limit and bumps the generation;
-- every refusal lowers the ceiling (what the server tolerates) by one. Mirrors
-- gh_jobs_async._limits.Limiter.refused and LocalBudget.refused.
local generation, wait, maximum = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local limit = math.min(num('limit', maximum), maximum)
local ceiling = num('ceiling', maximum)
if generation == num('generation', 0) then
  put('generation', num('generation', 0) + 1, 'strikes', num('strikes', 0) + 1,
    'successes', 0)
  ceiling = redis.call('ZCARD', leases_key) + 1
  limit = math.max(1, math.floor(limit / 2))
end
ceiling = math.max(1, ceiling - 1)
limit = math.min(limit, ceiling)
put('limit', limit, 'ceiling', ceiling, 'pause_until', math.max(num('pause_until', 0), now + wait))
return reply('ok', 0, maximum)
