// The Redis store's Lua script. Time comes from the Redis server (TIME), so that every gateway of
// a fleet measures rates on one clock. One call carries what the gateway has for Redis: the
// settlements of the requests that ended, then the checks of the requests that arrived in a turn
// of its event loop. Arguments: each key once, and one ARGV per request with the numbers of all
// its keys, separated by spaces (store.ts has the meaning of each): a command of few arguments
// costs the gateway less to encode than one of four per key.

/**
 * One batch: first the settlements, then the checks.
 * KEYS: every key the batch touches, once (a batch's requests mostly share their buckets: a
 * user's, a team's).
 * ARGV: the number of settlement groups s (one per ended request), the number of requests n, then
 * s + n texts: each group's, then each request's, five words per meter: its kind, the number of
 * its key in KEYS, then
 * - for a settlement: r limit periodMs delta (moves the arrival time, never below now) |
 *   c lease 0 0 (released) | b delta endMs 0 (the counter corrected, never below 0);
 * - for a check: r limit periodMs cost (GCRA) | c max ttlMs lease | b cap cost endMs.
 * The requests are checked in turn. For each, every meter is checked, and taken from only when
 * all admit: all or nothing per request, and a request sees what the settlements and the
 * requests before it in the batch did (atomic as any script).
 * Every key is read once per call (a full concurrency key again, to sweep its expired leases)
 * and written at most once: the script works on Lua tables and writes what changed at its end.
 * Each Redis command a script makes costs Redis more than the Lua around it: one command per key
 * instead of two or three per key and request (for a call of four requests' checks and
 * settlements, 130 to 176 us of Redis's time against 212 to 231 us before: docs/limits.md).
 * A last ARGV asks for shares (see below; empty when none).
 * Returns, per request, {ok, remaining1, reset1, retry1, remaining2, ...} (integers, ms), concatenated,
 * then per share asked for {granted, remaining, reset}.
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
-- A command with a list of arguments, in slices that unpack can hold.
local function call_with(command, key, list)
  for i = 1, #list, 1000 do redis.call(command, key, unpack(list, i, math.min(i + 999, #list))) end
end

-- The number a key holds (0 when it is absent), read once into cache.
local function number_of(cache, key)
  local v = cache[key]
  if v == nil then
    v = tonumber(redis.call('GET', key) or 0)
    cache[key] = v
  end
  return v
end

-- Rate buckets: the arrival time, and those changed.
local tats, tat_changed = {}, {}
local function tat_of(key) return number_of(tats, key) end
-- GCRA for a cost: the emission interval, the arrival time (not before now), and where the cost moves it.
local function gcra(key, limit, period, cost)
  local interval = period / limit
  local tat = tat_of(key)
  if tat < now then tat = now end
  return interval, tat, tat + cost * interval
end
-- Concurrency: the leases held (those this call adds included), the leases to add (score,
-- member pairs) and the longest of their lifetimes, the leases to release.
local held, adds, add_ttl, releases = {}, {}, {}, {}
local function held_of(key)
  local v = held[key]
  if v == nil then
    v = redis.call('ZCARD', key)
    held[key] = v
  end
  return v
end
-- Budgets: the counter, and the period end of those changed.
local spent, spent_ends = {}, {}
local function spent_of(key) return number_of(spent, key) end

for g = 1, groups do
  local w = words(ARGV[2 + g])
  for a = 0, #w - 5, 5 do
    local key = KEYS[tonumber(w[a + 2])]
    local kind = w[a + 1]
    if kind == 'r' then
      local tat = tat_of(key)
      if tat > now then
        tats[key] = math.max(now, tat + tonumber(w[a + 5]) * tonumber(w[a + 4]) / tonumber(w[a + 3]))
        tat_changed[key] = true
      end
    elseif kind == 'c' then
      local list = releases[key]
      if list == nil then
        list = {}
        releases[key] = list
      end
      list[#list + 1] = w[a + 3]
    else
      spent[key] = math.max(0, spent_of(key) + tonumber(w[a + 3]))
      spent_ends[key] = tonumber(w[a + 4])
    end
  end
end
-- Released before the checks: a slot freed in this turn is free for the requests checked in it.
for key, list in pairs(releases) do call_with('ZREM', key, list) end

local out = {}
for g = 1, requests do
  local w = words(ARGV[2 + groups + g])
  local ok = 1
  local at = #out + 1
  out[at] = 0
  local plan = {}
  for a = 0, #w - 5, 5 do
    local key = KEYS[tonumber(w[a + 2])]
    local kind = w[a + 1]
    local remaining, reset, retry = 0, 0, 0
    if kind == 'r' then
      local period = tonumber(w[a + 4])
      local interval, tat, nxt = gcra(key, tonumber(w[a + 3]), period, tonumber(w[a + 5]))
      local allow_at = nxt - period
      if allow_at > now then
        ok = 0
        remaining = math.max(0, math.floor((period - (tat - now)) / interval))
        reset = tat - now
        retry = allow_at - now
      else
        remaining = math.floor((period - (nxt - now)) / interval)
        reset = nxt - now
        plan[a] = nxt
      end
    elseif kind == 'c' then
      local max = tonumber(w[a + 3])
      local count = held_of(key)
      -- Expired leases (of a gateway that died holding them) matter only when they would
      -- refuse. The leases this call adds are not written yet, and none of them has expired.
      if count >= max then
        redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
        count = redis.call('ZCARD', key) + #(adds[key] or {}) / 2
        held[key] = count
      end
      if count >= max then
        ok = 0
        retry = 1000
      else
        remaining = max - count - 1
      end
    else
      local cap = tonumber(w[a + 3])
      local cost = tonumber(w[a + 4])
      local ends = tonumber(w[a + 5])
      local used = spent_of(key)
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
    for a = 0, #w - 5, 5 do
      local key = KEYS[tonumber(w[a + 2])]
      local kind = w[a + 1]
      if kind == 'r' then
        tats[key] = plan[a]
        tat_changed[key] = true
      elseif kind == 'c' then
        local ttl = tonumber(w[a + 4])
        local list = adds[key]
        if list == nil then
          list = {}
          adds[key] = list
        end
        list[#list + 1] = now + ttl
        list[#list + 1] = w[a + 5]
        held[key] = held[key] + 1
        if (add_ttl[key] or 0) < ttl then add_ttl[key] = ttl end
      else
        spent[key] = spent[key] + tonumber(w[a + 4])
        spent_ends[key] = tonumber(w[a + 5])
      end
    end
  end
  out[at] = ok
end

-- Shares (redis-shares.ts), after the checks: six words each, kind, the number of the key, then
-- r limit periodMs amount 0 | b cap amount endMs 0 | c max ttlMs count base. One is granted only
-- while the bucket stays at least half free after it. Returns granted, remaining, reset for each.
local asks = words(ARGV[3 + groups + requests] or '')
for a = 0, #asks - 6, 6 do
  local key = KEYS[tonumber(asks[a + 2])]
  local kind = asks[a + 1]
  local granted, remaining, reset = 0, 0, 0
  if kind == 'r' then
    local limit = tonumber(asks[a + 3])
    local period = tonumber(asks[a + 4])
    local amount = tonumber(asks[a + 5])
    local interval, tat, nxt = gcra(key, limit, period, amount)
    local left = math.floor((period - (nxt - now)) / interval)
    if left * 2 >= limit then
      tats[key] = nxt
      tat_changed[key] = true
      granted, remaining, reset = amount, left, nxt - now
    else
      remaining, reset = math.max(0, math.floor((period - (tat - now)) / interval)), tat - now
    end
  elseif kind == 'b' then
    local cap = tonumber(asks[a + 3])
    local amount = tonumber(asks[a + 4])
    local ends = tonumber(asks[a + 5])
    local used = spent_of(key)
    if (cap - used - amount) * 2 >= cap then
      used = used + amount
      spent[key] = used
      spent_ends[key] = ends
      granted = amount
    end
    remaining, reset = math.max(0, cap - used), math.max(0, ends - now)
  else
    local max = tonumber(asks[a + 3])
    local ttl = tonumber(asks[a + 4])
    local count = tonumber(asks[a + 5])
    local base = asks[a + 6]
    local holding = held_of(key)
    if (holding + count) * 2 <= max then
      local list = adds[key]
      if list == nil then
        list = {}
        adds[key] = list
      end
      for n = 1, count do
        list[#list + 1] = now + ttl
        list[#list + 1] = base .. n
      end
      holding = holding + count
      held[key] = holding
      if (add_ttl[key] or 0) < ttl then add_ttl[key] = ttl end
      granted = count
    end
    remaining = math.max(0, max - holding)
  end
  out[#out + 1] = granted
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(reset)
end

for key in pairs(tat_changed) do
  local tat = tats[key]
  redis.call('SET', key, tostring(tat), 'PX', math.ceil(tat - now) + 1000)
end
for key, list in pairs(adds) do
  call_with('ZADD', key, list)
  redis.call('PEXPIRE', key, add_ttl[key] + 1000)
end
-- A counter lives until a day after its period ends (late settlements still land in it).
for key, ends in pairs(spent_ends) do
  redis.call('SET', key, string.format('%d', spent[key]))
  redis.call('PEXPIREAT', key, ends + ${24 * 3_600_000})
end
return out
`;
