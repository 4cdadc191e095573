-- A request succeeded. ARGV: maximum, idle ttl. Mirrors Limiter.succeeded: one more
-- slot after `limit` successes, up to the ceiling, which rises by one after ten times
-- its value of successes in a row.
local maximum = tonumber(ARGV[1])
put('strikes', 0)
local limit = math.min(num('limit', maximum), maximum)
if limit < maximum then
  local ceiling = num('ceiling', maximum)
  local successes = num('successes', 0) + 1
  if limit >= ceiling then
    if successes >= 10 * ceiling then
      ceiling = ceiling + 1
      successes = 0
    end
  elseif successes >= limit then
    limit = limit + 1
    successes = 0
  end
  put('limit', limit, 'ceiling', ceiling, 'successes', successes)
end
return reply('ok', 0, maximum)
