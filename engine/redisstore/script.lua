-- tollgate engine: every algorithm and operation kind in one script, mirroring
-- engine.Step and engine.Eval (engine/transition.go, engine/plan.go) exactly.
--
-- Lua numbers are doubles. Every value here is an integer below 2^53 by the
-- engine's bounds, so + - * are exact; division goes through fdiv, which
-- corrects math.floor(a/b) against q*b. Every numerator divided is >= 0, as
-- in engine/transition.go, where Go's truncating / is then floor. Stored
-- values are written with string.format('%d', n): real Redis's tostring
-- keeps only 14 significant digits.
--
-- ARGV: [1] mode: '0' server clock (now = TIME, once per call) or '1' client
-- clock (each op's now), optionally followed by a TTL floor in ms; then per
-- op: kind, cost milli, policy count, in client mode now us, and each
-- policy's parameters (3 or 4, see step). KEYS: each op's policy keys, in
-- order.
--
-- Stored value per policy key: "expires_us s0 s1", or "expires_us s0 s1 s2"
-- for the sliding window, the only algorithm using s2 (the engine.State,
-- with the time after which it counts as absent, as memstore keeps it). The key's
-- PX TTL is the same TTL rounded up to milliseconds: Redis reclaims the key,
-- the stored expiry keeps the semantics exact to the microsecond.
--
-- GCRA stores "s0 s1" (tat, rem), or "s0" alone when rem is 0 (the common
-- case: a rate that divides the cost; one tonumber then reads it), without
-- the expiry: its expiry is
-- now + reset + 1000000 with tat = now + floor(used/rate) <= now + reset, so
-- a state past its expiry has tat < now and is judged exactly as an absent
-- one (tat = now, rem = 0), whatever the policy's parameters. The others
-- need it: a state written under other parameters (a policy changed under
-- the same name) or a concurrency lease past its timeout must count as absent.
--
-- fast.lua takes one-policy Acquires with the same stored values.
--
-- Reply: per op, now, then per policy: flags (1 allowed + 2 permanent),
-- remaining, reset us, retry-after us, charged.
--
-- Written for speed where it is cheap: kinds, codes and counts are compared
-- as strings (no tonumber), the one-policy case has its own path, and the
-- helpers are few, because every local function is a new closure per call.

local floor = math.floor
local fmt = string.format
local tonumber = tonumber
local match = string.match
local call = redis.call

-- Constants are written as literals, not locals: a local used in a function
-- is an upvalue, and every upvalue makes the closure, rebuilt on every call,
-- dearer. 1000000: nanotokens per millitoken (engine.nanoPerMilli), parts
-- per million (ppm) and the TTL margin in us (engine.ttlMarginUS);
-- 3600000000 and 86400000000: microseconds per hour and per day.

-- fdiv returns floor(a/b) exactly for integers 0 <= a < 2^53, b > 0. With
-- k = floor(a/b) and a/b = k + r/b (0 <= r < b), a/b is at least 1/b away
-- from k+1 and the rounding error of a/b is below a/b x 2^-53 < 1/b, so
-- math.floor of the rounded quotient is k. The q*b > a check (q*b is exact)
-- guards the bound rather than fixes a case that occurs within it.
local function fdiv(a, b)
  local q = floor(a / b)
  if q * b > a then
    q = q - 1
  end
  return q
end

-- ceildiv is engine.ceilDiv: ceil(a/b) for a > 0, 0 for a <= 0.
local function ceildiv(a, b)
  if a <= 0 then
    return 0
  end
  return fdiv(a + b - 1, b)
end

-- step is engine.Step for the policy whose parameters start at ARGV[b+1]:
-- the algorithm code, then by algorithm
--
--	gcra (4):                      cap nano, rate nano/us
--	token-bucket (3), ptb-cwd (5): cap nano, ceiling nano, rate nano/us
--	fixed-window (1):              cap milli, window us, calendar code
--	sliding-window (2):            cap milli, window us
--	concurrency (6):               cap milli, lease timeout us
--
-- It returns s0, s1, s2, write, ttl us, allowed, permanent,
-- remaining, reset us, retry-after us, charged. One function for all
-- algorithms: the script's closures are rebuilt on every call.
local function step(A, b, s0, s1, s2, exists, now, kind, cost)
  local a = A[b + 1]
  local write, allowed, perm, retry, charged = true, false, false, 0, 0
  if a == '4' then
    -- gcra: theoretical arrival time and a sub-microsecond remainder.
    local capn, rate = tonumber(A[b + 2]), tonumber(A[b + 3])
    local tat, rem = now, 0
    if exists then
      tat, rem = s0, s1
    end
    if tat < now then
      tat, rem = now, 0
    end
    -- A TAT beyond twice the burst tolerance (a caller's clock behind the
    -- writer's) is a full debt of 2 x capacity, as in engine.stepGCRA: the
    -- product would pass 2^53.
    local used
    if tat - now > 2 * ceildiv(capn, rate) then
      used = 2 * capn
    else
      used = (tat - now) * rate + rem
    end
    if kind == '1' then
      local n = cost * 1000000
      if n > capn then
        perm, write = true, false
      elseif used + n <= capn then
        used = used + n
        allowed, charged = true, cost
      else
        retry = ceildiv(used + n - capn, rate)
        write = false
      end
    elseif kind == '2' then
      used = used + cost * 1000000
      if used < 0 then used = 0 elseif used > 2 * capn then used = 2 * capn end
      allowed, charged = true, cost
    else
      allowed, write = true, false
    end
    -- used >= 0: q and r are used's quotient and remainder by rate, and
    -- ceil(used/rate) is q, or q+1 when r > 0.
    local q = fdiv(used, rate)
    local r = used - q * rate
    local reset = q
    if r > 0 then
      reset = q + 1
    end
    local left = capn - used
    if left <= 0 then left = 0 else left = fdiv(left, 1000000) end
    return now + q, r, 0, write, reset + 1000000, allowed, perm, left, reset, retry, charged
  elseif a == '3' or a == '5' then
    -- token-bucket (ceiling = capacity) and ptb-cwd (ceiling below it).
    local capn, ceil, rate = tonumber(A[b + 2]), tonumber(A[b + 3]), tonumber(A[b + 4])
    local tokens, last = ceil, now
    if exists then
      tokens, last = s0, s1
    end
    if now > last then
      local el = now - last
      if tokens < ceil then
        if el >= ceildiv(ceil - tokens, rate) then
          tokens = ceil
        else
          tokens = tokens + el * rate
        end
      elseif tokens > ceil then
        if el >= ceildiv(tokens - ceil, rate) then
          tokens = ceil
        else
          tokens = tokens - el * rate
        end
      end
      last = now
    end
    if kind == '1' then
      local n = cost * 1000000
      if n > ceil then
        perm, write = true, false
      elseif tokens >= n then
        tokens = tokens - n
        allowed, charged = true, cost
      else
        retry = ceildiv(n - tokens, rate)
        write = false
      end
    elseif kind == '2' then
      tokens = tokens - cost * 1000000
      if tokens < -capn then tokens = -capn elseif tokens > capn then tokens = capn end
      allowed, charged = true, cost
    else
      allowed, write = true, false
    end
    local reset, toceil = 0, 0
    if tokens < ceil then
      toceil = ceildiv(ceil - tokens, rate)
      reset = toceil
    elseif tokens > ceil then
      toceil = ceildiv(tokens - ceil, rate)
    end
    local left = 0
    if tokens > 0 then left = fdiv(tokens, 1000000) end
    -- The TTL runs from last, which is later than now when this caller's
    -- clock is behind the one that wrote the state.
    return tokens, last, 0, write, toceil + 1000000 + (last - now), allowed, perm, left, reset, retry, charged
  elseif a == '1' then
    -- fixed-window: one counter per window, epoch or calendar aligned.
    local capm, cal = tonumber(A[b + 2]), A[b + 4]
    local ws, we
    if cal == '1' then
      ws = fdiv(now, 3600000000) * 3600000000
      we = ws + 3600000000
    elseif cal == '2' then
      ws = fdiv(now, 86400000000) * 86400000000
      we = ws + 86400000000
    elseif cal == '3' then
      -- The calendar month's bounds (engine.civilFromDays, then
      -- daysFromCivil of its first day and the next month's), built only
      -- on this path: the script's closures are rebuilt on every call.
      local function days_from_civil(y, m, d)
        if m <= 2 then
          y = y - 1
        end
        local era = fdiv(y, 400)
        local yoe = y - era * 400
        local mp = m - 3
        if m <= 2 then
          mp = m + 9
        end
        local doy = fdiv(153 * mp + 2, 5) + d - 1
        local doe = yoe * 365 + fdiv(yoe, 4) - fdiv(yoe, 100) + doy
        return era * 146097 + doe - 719468
      end
      local z = fdiv(now, 86400000000) + 719468
      local era = fdiv(z, 146097)
      local doe = z - era * 146097
      local yoe = fdiv(doe - fdiv(doe, 1460) + fdiv(doe, 36524) - fdiv(doe, 146096), 365)
      local y = yoe + era * 400
      local doy = doe - (365 * yoe + fdiv(yoe, 4) - fdiv(yoe, 100))
      local mp = fdiv(5 * doy + 2, 153)
      local m
      if mp < 10 then
        m = mp + 3
      else
        m = mp - 9
      end
      if m <= 2 then
        y = y + 1
      end
      local ny, nm = y, m + 1
      if nm > 12 then
        ny, nm = y + 1, 1
      end
      ws, we = days_from_civil(y, m, 1) * 86400000000, days_from_civil(ny, nm, 1) * 86400000000
    else
      local w = tonumber(A[b + 3])
      ws = fdiv(now, w) * w
      we = ws + w
    end
    local count = 0
    if exists and s0 == ws then
      count = s1
    end
    if kind == '1' then
      if cost > capm then
        perm, write = true, false
      elseif count + cost <= capm then
        count = count + cost
        allowed, charged = true, cost
      else
        retry = we - now
        write = false
      end
    elseif kind == '2' then
      count = count + cost
      if count < 0 then count = 0 elseif count > 2 * capm then count = 2 * capm end
      allowed, charged = true, cost
    else
      allowed, write = true, false
    end
    local left = capm - count
    if left < 0 then left = 0 end
    return ws, count, 0, write, we - now + 1000000, allowed, perm, left, we - now, retry, charged
  elseif a == '2' then
    -- sliding-window counter: previous window weighted by its overlap (ppm).
    local capm, w = tonumber(A[b + 2]), tonumber(A[b + 3])
    local ws = fdiv(now, w) * w
    local caller_now = now
    local cur, prev = 0, 0
    if exists then
      if ws == s0 then
        cur, prev = s1, s2
      elseif ws == s0 + w then
        prev = s1
      elseif ws < s0 then
        -- This clock is behind the one that wrote the state: judge at the
        -- stored window's start (as engine.stepSliding does).
        ws, now = s0, s0
        cur, prev = s1, s2
      end
    end
    local frac = fdiv((w - (now - ws)) * 1000000, w)
    local weighted = fdiv(prev * frac, 1000000)
    local est = weighted + cur
    if kind == '1' then
      if cost > capm then
        perm, write = true, false
      elseif est + cost <= capm then
        cur = cur + cost
        est = est + cost
        allowed, charged = true, cost
      elseif cur + cost <= capm then
        -- Wait for the previous window's weight to fall to the room left.
        local target = fdiv((capm - cur - cost) * 1000000, prev)
        retry = ws + w - fdiv(target * w, 1000000) - now
        if retry < 1 then retry = 1 end
        write = false
      else
        -- Wait past this window, then for this window's weight to fall.
        local target = fdiv((capm - cost) * 1000000, cur)
        retry = ws + 2 * w - fdiv(target * w, 1000000) - now
        if retry < 1 then retry = 1 end
        write = false
      end
    elseif kind == '2' then
      cur = cur + cost
      if cur < 0 then cur = 0 elseif cur > 2 * capm then cur = 2 * capm end
      est = weighted + cur
      allowed, charged = true, cost
    else
      allowed, write = true, false
    end
    local left = capm - est
    if left < 0 then left = 0 end
    -- The TTL is relative to the caller's now (the store adds it to that),
    -- even when the decision was judged at the stored window's start.
    return ws, cur, prev, write, ws + 2 * w - caller_now + 1000000, allowed, perm, left, ws + w - now, retry, charged
  elseif a == '6' then
    -- concurrency: cost in flight; the TTL is the lease timeout.
    local capm = tonumber(A[b + 2])
    local inflight = 0
    if exists then
      inflight = s0
    end
    if kind == '1' then
      if cost > capm then
        perm, write = true, false
      elseif inflight + cost <= capm then
        inflight = inflight + cost
        allowed, charged = true, cost
      else
        write = false
      end
    elseif kind == '3' then
      inflight = inflight - cost
      if inflight < 0 then inflight = 0 end
      allowed, charged = true, -cost
    else
      allowed, write = true, false
    end
    local left = capm - inflight
    if left < 0 then left = 0 end
    return inflight, 0, 0, write, tonumber(A[b + 3]), allowed, perm, left, 0, 0, charged
  end
  return error('tollgate: unknown algorithm code ' .. tostring(a))
end

local argv = ARGV
local keys = KEYS
-- ARGV[1]: '0' server clock or '1' client clock, optionally followed by a
-- TTL floor in ms.
local mode = argv[1]
local client_clock = mode == '1'
local min_ttl_ms = 0
if mode ~= '0' and mode ~= '1' then
  client_clock = string.sub(mode, 1, 1) == '1'
  min_ttl_ms = tonumber(string.sub(mode, 2))
end
local now = 0
if not client_clock then
  local t = call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local out = {}
local oi = 0
local ki = 0
local ai = 2
local nargs = #argv
while ai <= nargs do
  local kind = argv[ai]
  local cost = tonumber(argv[ai + 1])
  local np = argv[ai + 2]
  if client_clock then
    now = tonumber(argv[ai + 3])
    ai = ai + 4
  else
    ai = ai + 3
  end
  -- The op's policy parameters start at ARGV[pb + 1].
  local pb = ai - 1
  if np == '1' then
    -- One policy, the hot path: no other policy can deny, nothing to
    -- re-evaluate.
    np = 1
    local key = keys[ki + 1]
    local code = argv[pb + 1]
    if code == '1' or code == '3' or code == '5' then
      ai = ai + 4
    else
      ai = ai + 3
    end
    local s0, s1, s2, exists = 0, 0, 0, false
    local v = call('GET', key)
    if v then
      if code == '4' then
        local a, b = tonumber(v), 0
        if not a then
          local x, y = match(v, '^(%-?%d+) (%-?%d+)$')
          a, b = tonumber(x), tonumber(y)
        end
        if a then
          s0, s1, exists = a, b, true
        end
      elseif code == '2' then
        local e, a, b, c = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)$')
        if e and tonumber(e) > now then
          s0, s1, s2, exists = tonumber(a), tonumber(b), tonumber(c), true
        end
      else
        local e, a, b = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
        if e and tonumber(e) > now then
          s0, s1, exists = tonumber(a), tonumber(b), true
        end
      end
    end
    local n0, n1, n2, w, ttl, allowed, perm, left, reset, retry, charged =
      step(argv, pb, s0, s1, s2, exists, now, kind, cost)
    if allowed and w then
      local ms = fdiv(ttl + 999, 1000) -- ttl > 0: it includes a margin
      if ms < min_ttl_ms then ms = min_ttl_ms end
      if ms < 1 then ms = 1 end
      local val
      if code == '4' then
        if n1 == 0 then
          val = fmt('%d', n0)
        else
          val = fmt('%d %d', n0, n1)
        end
      elseif code == '2' then
        val = fmt('%d %d %d %d', now + ttl, n0, n1, n2)
      else
        val = fmt('%d %d %d', now + ttl, n0, n1)
      end
      call('SET', key, val, 'PX', fmt('%d', ms))
    end
    local flags = 0
    if allowed then flags = 1 end
    if perm then flags = flags + 2 end
    out[oi + 1], out[oi + 2], out[oi + 3], out[oi + 4], out[oi + 5], out[oi + 6] = now, flags, left, reset, retry, charged
    oi = oi + 6
  else
    np = tonumber(np)
    -- read returns one policy's stored state and whether it exists (stored
    -- and not expired at now); only the sliding window (code '2') uses s2.
    local function read(key, code)
      local v = call('GET', key)
      if v then
        if code == '4' then
          local a, b = tonumber(v), 0
          if not a then
            local x, y = match(v, '^(%-?%d+) (%-?%d+)$')
            a, b = tonumber(x), tonumber(y)
          end
          if a then
            return a, b, 0, true
          end
        elseif code == '2' then
          local e, a, b, c = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+) (%-?%d+)$')
          if e and tonumber(e) > now then
            return tonumber(a), tonumber(b), tonumber(c), true
          end
        else
          local e, a, b = match(v, '^(%-?%d+) (%-?%d+) (%-?%d+)$')
          if e and tonumber(e) > now then
            return tonumber(a), tonumber(b), 0, true
          end
        end
      end
      return 0, 0, 0, false
    end
    -- R holds the step results, 11 per policy; B each policy's params base
    -- (4 values for the algorithms with three parameters, 3 for the others).
    local R, B = {}, {}
    local allowed = true
    local b = pb
    for i = 1, np do
      B[i] = b
      local code = argv[b + 1]
      if code == '1' or code == '3' or code == '5' then
        b = b + 4
      else
        b = b + 3
      end
    end
    ai = b + 1
    for i = 1, np do
      local b = B[i]
      local s0, s1, s2, exists = read(keys[ki + i], argv[b + 1])
      local rb = (i - 1) * 11
      R[rb + 1], R[rb + 2], R[rb + 3], R[rb + 4], R[rb + 5], R[rb + 6], R[rb + 7], R[rb + 8], R[rb + 9], R[rb + 10], R[rb + 11] =
        step(argv, b, s0, s1, s2, exists, now, kind, cost)
      if not R[rb + 6] then
        allowed = false
      end
    end
    if allowed then
      for i = 1, np do
        local rb = (i - 1) * 11
        if R[rb + 4] then
          local ttl = R[rb + 5]
          local ms = fdiv(ttl + 999, 1000) -- ttl > 0: it includes a margin
          if ms < min_ttl_ms then ms = min_ttl_ms end
          if ms < 1 then ms = 1 end
          local val
          local code = argv[B[i] + 1]
          if code == '4' then
            if R[rb + 2] == 0 then
              val = fmt('%d', R[rb + 1])
            else
              val = fmt('%d %d', R[rb + 1], R[rb + 2])
            end
          elseif code == '2' then
            val = fmt('%d %d %d %d', now + ttl, R[rb + 1], R[rb + 2], R[rb + 3])
          else
            val = fmt('%d %d %d', now + ttl, R[rb + 1], R[rb + 2])
          end
          call('SET', keys[ki + i], val, 'PX', fmt('%d', ms))
        end
      end
    elseif kind == '1' then
      -- Report pre-charge balances for the policies that would have admitted
      -- (their decision stays allowed, as engine.Eval has it). Nothing was
      -- written, so the states read again are the ones judged.
      for i = 1, np do
        local rb = (i - 1) * 11
        if R[rb + 6] then
          local b = B[i]
          local s0, s1, s2, exists = read(keys[ki + i], argv[b + 1])
          local _
          _, _, _, _, _, _, R[rb + 7], R[rb + 8], R[rb + 9], R[rb + 10], R[rb + 11] =
            step(argv, b, s0, s1, s2, exists, now, '1', 0)
        end
      end
    end
    oi = oi + 1
    out[oi] = now
    for i = 1, np do
      local rb = (i - 1) * 11
      local flags = 0
      if R[rb + 6] then flags = 1 end
      if R[rb + 7] then flags = flags + 2 end
      out[oi + 1], out[oi + 2], out[oi + 3], out[oi + 4], out[oi + 5] = flags, R[rb + 8], R[rb + 9], R[rb + 10], R[rb + 11]
      oi = oi + 5
    end
  end
  ki = ki + np
end
return out
