// The Redis store's Lua script. Time comes from the Redis server (TIME), so that every gateway of
// a fleet measures rates on one clock. One call carries what a turn of the gateway's event loop
// has for Redis: the settlements of the requests that ended, then the checks of the requests
// that arrived. Arguments: one key per settlement or check, and one ARGV per request with the
// numbers of all its keys, separated by spaces (store.ts has the meaning of each): a command of
// few arguments costs the gateway less to encode than one of four per key.

/**
 * One batch: first the settlements, then the checks.
 * KEYS: the settlements' keys, then the checks' keys (each request's in turn).
 * ARGV: the number of settlement groups s (one per ended request), the number of requests n, then
 * s + n texts: each group's, then each request's, four words per key in KEYS order:
 * - a settlement: r limit periodMs delta (moves the arrival time, never below now) |
 *   c lease 0 0 (released) | b delta endMs 0 (the counter corrected, never below 0);
 * - a check: r limit periodMs cost (GCRA) | c max ttlMs lease | b cap cost endMs.
 * The requests are checked in turn. For each, every meter is checked, and taken from only when
 * all admit: all or nothing per request, and a request sees what the settlements and the
 * requests before it in the batch did (atomic as any script).
 * Returns, per request, {ok, remaining1, reset1, retry1, remaining2, ...} (integers, ms), concatenated.
 */
export const BATCH_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local groups = tonumber(ARGV[1])
local requests = tonumber(ARGV[2])
local function words(text)
  local w = {}
  for word in string.gmatch(text, '%S+') do w[#w + 1] = word end
  return w
end
local k = 0
for g = 1, groups do
  local w = words(ARGV[2 + g])
  for a = 0, #w - 4, 4 do
    k = k + 1
    local key = KEYS[k]
    local kind = w[a + 1]
    if kind == 'r' then
      local tat = tonumber(redis.call('GET', key) or 0)
      if tat > now then
        local nxt = math.max(now, tat + tonumber(w[a + 4]) * tonumber(w[a + 3]) / tonumber(w[a + 2]))
        redis.call('SET', key, tostring(nxt), 'PX', math.ceil(nxt - now) + 1000)
      end
    elseif kind == 'c' then
      redis.call('ZREM', key, w[a + 2])
    else
      local used = redis.call('INCRBY', key, w[a + 2])
      if used < 0 then redis.call('SET', key, 0) end
      -- A counter made here (its period's had expired) or reset by SET gets its expiry; one
      -- that exists keeps the expiry it has.
      if used < 0 or used == tonumber(w[a + 2]) then redis.call('PEXPIREAT', key, tonumber(w[a + 3]) + ${24 * 3_600_000}) end
    end
  end
end
local out = {}
for g = 1, requests do
  local w = words(ARGV[2 + groups + g])
  local first = k + 1
  local ok = 1
  local at = #out + 1
  out[at] = 0
  local plan = {}
  for a = 0, #w - 4, 4 do
    k = k + 1
    local key = KEYS[k]
    local kind = w[a + 1]
    local remaining, reset, retry = 0, 0, 0
    if kind == 'r' then
      local limit = tonumber(w[a + 2])
      local period = tonumber(w[a + 3])
      local cost = tonumber(w[a + 4])
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
        plan[k] = nxt
      end
    elseif kind == 'c' then
      local max = tonumber(w[a + 2])
      -- Expired leases (of a gateway that died holding them) matter only when they would refuse.
      local held = redis.call('ZCARD', key)
      if held >= max then
        redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
        held = redis.call('ZCARD', key)
      end
      if held >= max then
        ok = 0
        retry = 1000
      else
        remaining = max - held - 1
      end
    else
      local cap = tonumber(w[a + 2])
      local cost = tonumber(w[a + 3])
      local ends = tonumber(w[a + 4])
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
    local i = first
    for a = 0, #w - 4, 4 do
      local key = KEYS[i]
      local kind = w[a + 1]
      if kind == 'r' then
        redis.call('SET', key, tostring(plan[i]), 'PX', math.ceil(plan[i] - now) + 1000)
      elseif kind == 'c' then
        local ttl = tonumber(w[a + 3])
        redis.call('ZADD', key, now + ttl, w[a + 4])
        redis.call('PEXPIRE', key, ttl + 1000)
      else
        -- The counter's expiry is set when the first request of its period makes it.
        if redis.call('INCRBY', key, w[a + 3]) == tonumber(w[a + 3]) then redis.call('PEXPIREAT', key, tonumber(w[a + 4]) + ${24 * 3_600_000}) end
      end
      i = i + 1
    end
  end
  out[at] = ok
end
return out
`;
