-- The primary budget an answer reported. ARGV: remaining, reset (epoch s), maximum, idle
-- ttl. Spent: everyone holds back until the reset; a later reset is a new window.
local remaining, reset, maximum = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local primary = num('primary_reset', 0)
if remaining <= 0 then
  put('primary_reset', math.max(primary, reset))
elseif primary > 0 and reset > primary then
  redis.call('HDEL', state_key, 'primary_reset')
  state['primary_reset'] = nil
end
return reply('ok', 0, maximum)
