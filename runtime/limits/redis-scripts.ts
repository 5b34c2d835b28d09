// The Redis store's two Lua scripts. Time comes from the Redis server (TIME), so that every
// gateway of a fleet measures rates on one clock. Arguments: one key per check, and four ARGV
// per check: kind, then three numbers or strings (store.ts has the meaning of each). Both take
// a batch: the requests of one turn of the gateway's event loop go to Redis in one call.

/**
 * Checks the requests of one batch in turn (the checks a gateway made in one turn of its event
 * loop). For each, every meter is checked, and taken from only when all admit: all or nothing per
 * request, and a request sees what the ones before it in the batch took (atomic as any script).
 * ARGV: the number of requests n, then each request's number of checks, then four per check (in
 * KEYS order): r: limit, periodMs, cost (GCRA) | c: max, ttlMs, lease | b: cap, cost, endMs.
 * Returns, per request, {ok, remaining1, reset1, retry1, remaining2, ...} (integers, ms), concatenated.
 */
export const CHECK_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local requests = tonumber(ARGV[1])
local base = requests + 1
local out = {}
local first = 1
for g = 1, requests do
  local last = first + tonumber(ARGV[1 + g]) - 1
  local ok = 1
  local at = #out + 1
  out[at] = 0
  local plan = {}
  for i = first, last do
    local key = KEYS[i]
    local a = base + (i - 1) * 4
    local kind = ARGV[a + 1]
    local remaining, reset, retry = 0, 0, 0
    if kind == 'r' then
      local limit = tonumber(ARGV[a + 2])
      local period = tonumber(ARGV[a + 3])
      local cost = tonumber(ARGV[a + 4])
      local interval = period / limit
      local tat = tonumber(redis.call('GET', key) or now)
      if tat < now then tat = now end
      local nxt = tat + cost * interval
      local allow_at = nxt - period
      if allow_at > now then
        ok = 0
        remaining = math.max(0, math.floor((period - (tat - now)) / interval))
        reset = tat - now
        retry = allow_at - now
      else
        remaining = math.floor((period - (nxt - now)) / interval)
        reset = nxt - now
        plan[i] = nxt
      end
    elseif kind == 'c' then
      local max = tonumber(ARGV[a + 2])
      redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
      local held = redis.call('ZCARD', key)
      if held >= max then
        ok = 0
        retry = 1000
      else
        remaining = max - held - 1
      end
    else
      local cap = tonumber(ARGV[a + 2])
      local cost = tonumber(ARGV[a + 3])
      local ends = tonumber(ARGV[a + 4])
      local used = tonumber(redis.call('GET', key) or 0)
      reset = math.max(0, ends - now)
      if used >= cap then
        ok = 0
        retry = math.max(1, ends - now)
      else
        remaining = math.max(0, cap - used - cost)
      end
    end
    out[#out + 1] = remaining
    out[#out + 1] = math.ceil(reset)
    out[#out + 1] = math.ceil(retry)
  end
  if ok == 1 then
    for i = first, last do
      local key = KEYS[i]
      local a = base + (i - 1) * 4
      local kind = ARGV[a + 1]
      if kind == 'r' then
        redis.call('SET', key, tostring(plan[i]), 'PX', math.ceil(plan[i] - now) + 1000)
      elseif kind == 'c' then
        local ttl = tonumber(ARGV[a + 3])
        redis.call('ZADD', key, now + ttl, ARGV[a + 4])
        redis.call('PEXPIRE', key, ttl + 1000)
      else
        redis.call('INCRBY', key, ARGV[a + 3])
        redis.call('PEXPIREAT', key, tonumber(ARGV[a + 4]) + ${24 * 3_600_000})
      end
    end
  end
  out[at] = ok
  first = last + 1
end
return out
`;

/**
 * Settles after a request: r: limit, periodMs, delta (moves the arrival time, never below now) |
 * c: lease (released) | b: delta, endMs (the counter corrected, never below 0). Returns nothing.
 */
export const SETTLE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, #KEYS do
  local key = KEYS[i]
  local kind = ARGV[i * 4 - 3]
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', key) or 0)
    if tat > now then
      local nxt = math.max(now, tat + tonumber(ARGV[i * 4]) * tonumber(ARGV[i * 4 - 1]) / tonumber(ARGV[i * 4 - 2]))
      redis.call('SET', key, tostring(nxt), 'PX', math.ceil(nxt - now) + 1000)
    end
  elseif kind == 'c' then
    redis.call('ZREM', key, ARGV[i * 4 - 2])
  else
    local used = redis.call('INCRBY', key, ARGV[i * 4 - 2])
    if used < 0 then redis.call('SET', key, 0) end
    redis.call('PEXPIREAT', key, tonumber(ARGV[i * 4 - 1]) + ${24 * 3_600_000})
  end
end
return 0
`;
