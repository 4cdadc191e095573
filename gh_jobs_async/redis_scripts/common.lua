-- Shared by every script (prepended when loaded). KEYS: state (hash), leases (zset:
-- lease id -> expiry), done (zset: lease id -> completion time). All times are Redis
-- TIME in seconds, never a worker's clock. The last ARGV is the idle TTL in seconds.
local state_key, leases_key, done_key = KEYS[1], KEYS[2], KEYS[3]
local idle = tonumber(ARGV[#ARGV])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000

-- The state hash, read once (HMGET) and kept in step by put().
local FIELDS = {'limit', 'ceiling', 'successes', 'generation', 'strikes', 'pause_until',
  'primary_reset'}
local state = {}
local values = redis.call('HMGET', state_key, unpack(FIELDS))
for i, field in ipairs(FIELDS) do
  if values[i] then state[field] = tonumber(values[i]) end
end

local function num(field, default)
  local value = state[field]
  if value == nil then return default end
  return value
end

-- HSET field value [field value ...], remembered for num().
local function put(...)
  local args = {...}
  for i = 1, #args, 2 do state[args[i]] = tonumber(args[i + 1]) end
  redis.call('HSET', state_key, unpack(args))
end

-- Expired leases are the slots of workers that died or lost Redis: free them.
redis.call('ZREMRANGEBYSCORE', leases_key, '-inf', now)

local function touch()
  local pause = num('pause_until', 0)
  local primary = num('primary_reset', 0)
  local keep = idle + math.max(0, pause - now, primary - now)
  redis.call('PEXPIRE', state_key, math.ceil(keep * 1000))
  redis.call('PEXPIRE', leases_key, math.ceil(idle * 1000))
  redis.call('PEXPIRE', done_key, math.ceil(idle * 1000))
end

-- Every script answers the same shape: what it decided and the state as it is now.
local function reply(reason, wait, maximum, granted)
  touch()
  return {
    reason, tostring(wait),
    math.min(num('limit', maximum), maximum), num('generation', 0), num('strikes', 0),
    tostring(math.max(0, num('pause_until', 0) - now)), tostring(num('primary_reset', 0)),
    redis.call('ZCARD', leases_key), granted or 0,
  }
end
