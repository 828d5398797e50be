-- tollgate engine, the lean script: one Acquire on a one-policy plan, the
-- common case, in one straight run. It mirrors engine.Step for kind Acquire
-- exactly, as script.lua's step does, and reads and writes the same stored
-- values (see script.lua), so either script may take any key's next
-- decision. The store sends every other operation to script.lua, and the
-- fixed window aligned to the calendar month too.
--
-- Why a second script: Redis compiles a script once, but every local
-- function in it is a new closure on every call, and a general script pays
-- for dispatch over kinds, policy counts and parameter layouts. This one
-- defines no function at all: fdiv (floor(a/b), exact for integers
-- 0 <= a < 2^53 and b > 0; see script.lua) and ceildiv are written out where
-- they are used. Stored values are written with string.format('%d', n):
-- real Redis's tostring keeps only 14 significant digits. Strings known to
-- hold an integer (ARGV, TIME, pattern captures) become numbers by
-- arithmetic (x + 0: the VM converts, exactly, without a function call);
-- tonumber is kept where nil must come out of a non-number.
--
-- ARGV: [1] algorithm code, [2] cost milli, [3..] the policy's parameters
-- (as in script.lua's step: 2 for gcra, sliding-window and concurrency, 3
-- for the others), then, only when the clock is the caller's or a TTL floor
-- is set, the mode ('0' server clock: now = TIME; '1' client clock;
-- optionally followed by a TTL floor in ms) and in client clock mode now in
-- us. KEYS[1]: the policy's key.
--
-- Reply: now, flags (1 allowed + 2 permanent), remaining, reset us,
-- retry-after us: script.lua's reply for one one-policy op without charged,
-- which for an Acquire is the cost when allowed and 0 otherwise.

local floor = math.floor
local tonumber = tonumber
local match = string.match
local call = redis.call
local argv = ARGV
local key = KEYS[1]

local code = argv[1]
local cost = argv[2] + 0
-- The clock arguments follow the policy's parameters (2 or 3 of them), and
-- only when the clock is the caller's or a TTL floor is set.
local xi = 5
if code == '3' or code == '5' or code == '1' then
  xi = 6
end
local mode = argv[xi]
local now, min_ttl_ms = 0, 0
if mode ~= nil and mode ~= '0' and mode ~= '1' then
  min_ttl_ms = tonumber(string.sub(mode, 2))
  mode = string.sub(mode, 1, 1)
end
if mode == '1' then
  now = argv[xi + 1] + 0
else
  local t = call('TIME')
  now = t[1] * 1000000 + t[2]
end

local v = call('GET', key)
-- flags: 1 allowed, 2 permanent. val, when set, is written with a TTL of
-- ttl us.
local flags, left, reset, retry = 0, 0, 0, 0
local val, ttl

if code == '4' then
  -- gcra: "tat rem", or "tat" when rem is 0, without an expiry: a state
  -- past its expiry has tat < now and is judged as absent anyway (see
  -- script.lua).
  local capn, rate = argv[3] + 0, argv[4] + 0
  local tat, rem = now, 0
  if v then
    -- "tat" alone when rem is 0, else "tat rem" (see script.lua).
    local a, b = tonumber(v), 0
    if not a then
      local x, y = match(v, '^(%-?%d+) (%-?%d+)$')
      a, b = tonumber(x), tonumber(y)
    end
    if a then
      tat = a
      if tat < now then
        tat = now
      else
        rem = b
      end
    end
  end
  local used = rem
  local d = tat - now
  if d > 0 then
    -- A TAT beyond twice the burst tolerance, 2 x ceil(capn/rate), is a
    -- full debt of 2 x capacity, as in engine.stepGCRA.
    local x = capn + rate - 1
    local q = floor(x / rate)
    if q * rate > x then q = q - 1 end
    if d > 2 * q then
      used = 2 * capn
    else
      used = d * rate + rem
    end
  end
  local n = cost * 1000000
  if n > capn then
    flags = 2
  elseif used + n <= capn then
    used = used + n
    flags = 1
  else
    local x = used + n - capn + rate - 1
    retry = floor(x / rate)
    if retry * rate > x then retry = retry - 1 end
  end
  local q = floor(used / rate)
  if q * rate > used then q = q - 1 end
  local r = used - q * rate
  reset = q
  if r > 0 then reset = q + 1 end
  left = capn - used
  if left <= 0 then
    left = 0
  else
    local l = floor(left / 1000000)
    if l * 1000000 > left then l = l - 1 end
    left = l
  end
  if flags == 1 then
    ttl = reset + 1000000
    if r == 0 then
      val = string.format('%d', now + q)
    else
      val = string.format('%d %d', now + q, r)
    end
  end
elseif code == '3' or code == '5' then
  -- token-bucket (ceiling = capacity) and ptb-cwd (ceiling below it).
  local capn, ceil, rate = argv[3] + 0, argv[4] + 0, argv[5] + 0
  local tokens, last = ceil, now
  if v then
    local e, a, b = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
    if e and (e + 0) > now then
      tokens, last = a + 0, b + 0
    end
  end
  if now > last then
    local el = now - last
    if tokens < ceil then
      local x = ceil - tokens + rate - 1
      local c = floor(x / rate)
      if c * rate > x then c = c - 1 end
      if el >= c then
        tokens = ceil
      else
        tokens = tokens + el * rate
      end
    elseif tokens > ceil then
      local x = tokens - ceil + rate - 1
      local c = floor(x / rate)
      if c * rate > x then c = c - 1 end
      if el >= c then
        tokens = ceil
      else
        tokens = tokens - el * rate
      end
    end
    last = now
  end
  local n = cost * 1000000
  if n > ceil then
    flags = 2
  elseif tokens >= n then
    tokens = tokens - n
    flags = 1
  else
    local x = n - tokens + rate - 1
    retry = floor(x / rate)
    if retry * rate > x then retry = retry - 1 end
  end
  local toceil = 0
  if tokens < ceil then
    local x = ceil - tokens + rate - 1
    toceil = floor(x / rate)
    if toceil * rate > x then toceil = toceil - 1 end
    reset = toceil
  elseif tokens > ceil then
    local x = tokens - ceil + rate - 1
    toceil = floor(x / rate)
    if toceil * rate > x then toceil = toceil - 1 end
  end
  if tokens > 0 then
    left = floor(tokens / 1000000)
    if left * 1000000 > tokens then left = left - 1 end
  end
  if flags == 1 then
    -- The TTL runs from last, later than now when this caller's clock is
    -- behind the one that wrote the state.
    ttl = toceil + 1000000 + (last - now)
    val = string.format('%d %d %d', now + ttl, tokens, last)
  end
elseif code == '1' then
  -- fixed-window aligned to the epoch, the UTC hour or the UTC day.
  local capm, cal = argv[3] + 0, argv[5]
  local w
  if cal == '0' then
    w = argv[4] + 0
  elseif cal == '1' then
    w = 3600000000
  elseif cal == '2' then
    w = 86400000000
  else
    return error('tollgate: fast script: calendar code ' .. tostring(cal) .. ' belongs to the general script')
  end
  local ws = floor(now / w)
  if ws * w > now then ws = ws - 1 end
  ws = ws * w
  local we = ws + w
  local count = 0
  if v then
    local e, a, b = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
    if e and (e + 0) > now and (a + 0) == ws then
      count = b + 0
    end
  end
  if cost > capm then
    flags = 2
  elseif count + cost <= capm then
    count = count + cost
    flags = 1
  else
    retry = we - now
  end
  left = capm - count
  if left < 0 then left = 0 end
  reset = we - now
  if flags == 1 then
    ttl = we - now + 1000000
    val = string.format('%d %d %d', now + ttl, ws, count)
  end
elseif code == '2' then
  -- sliding-window counter: previous window weighted by its overlap (ppm).
  local capm, w = argv[3] + 0, argv[4] + 0
  local ws = floor(now / w)
  if ws * w > now then ws = ws - 1 end
  ws = ws * w
  -- jnow is the time judged at: the stored window's start when this clock
  -- is behind the one that wrote the state (as engine.stepSliding does).
  local jnow = now
  local cur, prev = 0, 0
  if v then
    local e, a, b, c = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)$')
    if e and (e + 0) > now then
      local s0 = a + 0
      if ws == s0 then
        cur, prev = b + 0, c + 0
      elseif ws == s0 + w then
        prev = b + 0
      elseif ws < s0 then
        ws, jnow = s0, s0
        cur, prev = b + 0, c + 0
      end
    end
  end
  local x = (w - (jnow - ws)) * 1000000
  local frac = floor(x / w)
  if frac * w > x then frac = frac - 1 end
  x = prev * frac
  local weighted = floor(x / 1000000)
  if weighted * 1000000 > x then weighted = weighted - 1 end
  local est = weighted + cur
  if cost > capm then
    flags = 2
  elseif est + cost <= capm then
    cur = cur + cost
    est = est + cost
    flags = 1
  else
    -- Wait for the previous window's weight to fall to the room left, or
    -- past this window and then for this window's weight to fall.
    local room, by, until_ = capm - cur - cost, prev, ws + w
    if cur + cost > capm then
      room, by, until_ = capm - cost, cur, ws + 2 * w
    end
    x = room * 1000000
    local target = floor(x / by)
    if target * by > x then target = target - 1 end
    x = target * w
    local back = floor(x / 1000000)
    if back * 1000000 > x then back = back - 1 end
    retry = until_ - back - jnow
    if retry < 1 then retry = 1 end
  end
  left = capm - est
  if left < 0 then left = 0 end
  reset = ws + w - jnow
  if flags == 1 then
    -- The TTL is relative to the caller's now, even when the decision was
    -- judged at the stored window's start.
    ttl = ws + 2 * w - now + 1000000
    val = string.format('%d %d %d %d', now + ttl, ws, cur, prev)
  end
elseif code == '6' then
  -- concurrency: cost in flight; the TTL is the lease timeout.
  local capm = argv[3] + 0
  local inflight = 0
  if v then
    local e, a = match(v, '^(%-?%d+) (%-?%d+) %-?%d+$')
    if e and (e + 0) > now then
      inflight = a + 0
    end
  end
  if cost > capm then
    flags = 2
  elseif inflight + cost <= capm then
    inflight = inflight + cost
    flags = 1
  end
  left = capm - inflight
  if left < 0 then left = 0 end
  if flags == 1 then
    ttl = argv[4] + 0
    val = string.format('%d %d 0', now + ttl, inflight)
  end
else
  return error('tollgate: fast script: unknown algorithm code ' .. tostring(code))
end

if val then
  -- ttl > 0: it includes a margin. PSETEX is SET with PX, parsed faster;
  -- ms is a small integer, which real Redis and miniredis format alike.
  local x = ttl + 999
  local ms = floor(x / 1000)
  if ms * 1000 > x then ms = ms - 1 end
  if ms < min_ttl_ms then ms = min_ttl_ms end
  if ms < 1 then ms = 1 end
  call('PSETEX', key, ms, val)
end
return {now, flags, left, reset, retry}
