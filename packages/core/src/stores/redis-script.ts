import { scriptSha } from '../digest.js';

/**
 * One token-bucket decision, atomically, in Redis. Mirrors `refill` and `covers` from
 * limiter/bucket.ts operation for operation on IEEE doubles, so a RedisStore and a MemoryStore
 * given the same calls reach bit-identical states.
 *
 * KEYS[1]  the client's stored buckets, in the layout stores/bucket-codec.ts defines (the one
 *          reference for it, which the CLI and the tests read with): little-endian doubles (the ms
 *          at which the key expires, `since` (ms of the last write), then each bucket's tokens at
 *          `since`), then the spec (below). A change to that layout changes both files.
 * ARGV[1]  the clock: 't' to read the server's TIME, else the caller's estimate of the server's
 *          clock in ms, never ahead of it, optionally followed by '+' and how far ahead of the
 *          estimate the server's clock can be at most. A mode other than consume prefixes it:
 *          'a' adjust (take every value unconditionally), 'l' lower (cap each bucket at its
 *          value), 'p' peek.
 * ARGV[2]  the spec: the bucket ids (`policyId`) joined by ','. A stored value whose spec differs was written
 *          for other policies: its buckets are matched by id, the others start full.
 * ARGV[3…] per bucket: capacity, tokens per ms, value (cost, delta or ceiling), as numbers Lua
 *          parses exactly (integers, or C99 hex floats). With one bucket and a value of 1 (the
 *          common consume), the value is left out.
 * returns  a string of doubles. Written: `now` then each bucket's tokens. Not written (refused,
 *          or peek): `-now`, `since`, then each bucket's tokens at `since`, so the caller refills
 *          them with its own arithmetic. 'T' if the server refuses TIME. `{ 2, reply }` when the
 *          stored value could not be decoded (NaN or infinite doubles, an impossible time, a value
 *          of another type or layout): it was deleted and the decision taken on full buckets.
 *
 * Why it looks like this: every Redis command a script calls costs about as much as the whole
 * script's own arithmetic, so a consume is GET and SETRANGE only. SETRANGE rewrites `since` and
 * the tokens in place and keeps the key's TTL; the TTL is set (SET … PX) only when the key is new
 * or would expire before its buckets are full again, and then with slack (up to a minute) so that
 * a busy key is not re-timed on every call. The server clock is read (TIME) only when the caller
 * asks, to learn its offset; a clock that lags never moves `since` back (`now` is at least
 * `since`), except that a `since` more than a second past the latest the server's clock can be
 * (`upper`) was written before the server's clock stepped back, and is taken as now: a backward
 * step then costs a client its bucket's normal refill time, not the length of the step. A lagging estimate is harmless while a bucket refills (the refill is linear in time,
 * so the lag is made up by the next caller), but not where the arithmetic bends: a bucket that is
 * new or refilled to its capacity is full from whenever, so such a write is stamped with the
 * latest the server's clock can be (`upper`), never earlier. Otherwise the next caller, with a
 * better clock, would refill from a `since` in the past and get tokens that never existed. Numbers
 * travel as binary doubles: exact, and no `%.17g` formatting or parsing.
 */
const DECISION = `local clock = ARGV[1]
local spec = ARGV[2]
local argc = #ARGV
local n = 1
if argc > 5 then n = (argc - 2) / 3 end
local mode = 'c'
if string.byte(clock) > 57 and clock ~= 't' then
  mode = string.sub(clock, 1, 1)
  clock = string.sub(clock, 2)
end
local now
local upper
local timed = -1
-- Whether the time is the server's (its TIME, or an estimate of it): only then can a stored time
-- far ahead be told for a step of the server's clock. App servers' clocks (and the test clock)
-- disagree with each other by any amount, so there a stored time ahead is kept, as it always was.
local serverClock = true
if clock == 't' then
  if redis.replicate_commands then redis.replicate_commands() end
  local t = redis.pcall('TIME')
  if t[2] == nil then return { -1 } end
  local us = t[2] + 0
  now = t[1] * 1000 + (us - us % 1000) / 1000
  timed = now
  upper = now + 1
else
  local plus = string.find(clock, '+', 2, true)
  if plus then
    now = string.sub(clock, 1, plus - 1) + 0
    upper = now + string.sub(clock, plus + 1)
  else
    now = clock + 0
    upper = now
    serverClock = false
  end
end
-- A stored time further ahead than any clock estimate can be (their slack is a round trip or
-- so) was written before the server's clock stepped back: it is taken as now, so the step costs
-- the bucket no more than its normal refill time, not the length of the step.
local ahead = math.huge
if serverClock then ahead = upper + 1000 end
-- Set when the stored value could not be decoded: the reply then says so (see the end).
local corrupt = false

-- Whether a decoded double is a number the arithmetic can use (not NaN, not infinite), and a
-- stored time one a clock could have written: not negative, not a year past the server's clock
-- (a longer backward step of the server's clock, which clears buckets, is not a real concern).
local function finite(x)
  return x == x and x > -math.huge and x < math.huge
end
local function plausible(t)
  return finite(t) and t >= 0 and t <= upper + 31622400000
end

-- What cannot be decoded is treated as absent (full buckets): deleted now, so a refusal or a
-- peek, which write nothing, do not leave it behind, and whatever is written next has a TTL.
local function discard()
  redis.call('DEL', key)
  corrupt = true
end

local function decide()
local v = redis.pcall('GET', key)

-- Writes the tokens of a set whose time was ahead, timed now and expiring from now: a call that
-- writes nothing else (a refusal, a peek) would otherwise find the stale time again.
local function restamp(tokens)
  local need = 0
  local slack = 0
  for i = 1, #tokens do
    local cap = ARGV[i * 3] + 0
    local rate = ARGV[i * 3 + 1] + 0
    if not (tokens[i] >= cap - 1e-9) then
      local ms = (cap - tokens[i]) / rate
      if ms > need then need = ms end
      ms = cap / rate
      if ms > slack then slack = ms end
    end
  end
  if need == 0 then
    redis.call('DEL', key)
    return
  end
  if slack > 60000 then slack = 60000 end
  local expires = math.ceil(now + need + 1 + slack)
  local out = struct.pack('<' .. string.rep('d', #tokens + 2), expires, now, unpack(tokens))
  redis.call('SET', key, out .. spec, 'PX', string.format('%d', expires - now))
end

-- Writes a bucket set that is full again at need. out: since and the tokens, written in place
-- (SETRANGE keeps the key's TTL) while the stored expiry still fits; SETRANGE is right only if
-- tollgate wrote that expiry too, so one further out than any write could have set (need only
-- grows, but for refunds) is re-set. Otherwise the whole value is written with a new expiry,
-- slack (a full refill's time, at most a minute) past need.
local function save(out, need, slack, stored)
  if stored and need <= stored and stored <= need + 2 * slack + 60002 then
    redis.call('SETRANGE', key, '8', out)
  else
    if slack > 60000 then slack = 60000 end
    local expires = math.ceil(need + slack)
    redis.call('SET', key, struct.pack('<d', expires) .. out .. spec, 'PX', string.format('%d', expires - now))
  end
end

if n == 1 and (not v or (#v == 24 + #spec and string.find(v, spec, 25, true) == 25)) then
  local cap = ARGV[3] + 0
  local rate = ARGV[4] + 0
  local value = 1
  if argc == 5 then value = ARGV[5] + 0 end
  local expires, since, held, t
  local stamp = now
  local stepped = false
  if v then
    expires, since, held = struct.unpack('<ddd', v)
    if not (finite(expires) and plausible(since) and finite(held)) then
      discard()
      v = false
    end
  end
  if v then
    if since > ahead then
      since = now
      expires = 0
      stepped = true
    end
    if now < since then now = since end
    stamp = now
    t = held + (now - since) * rate
    if t > cap then
      t = cap
      if upper > now then stamp = upper end
    end
  else
    since = now
    held = cap
    t = cap
    stamp = upper
  end
  if mode == 'p' or (mode == 'c' and not (t >= value - 1e-9)) then
    if stepped then restamp({ t }) end
    return { 0, timed, now, since, string.format('%.17g', held) }
  end
  local left
  if mode == 'l' then
    left = t
    if value < left then left = value end
  else
    left = t - value
    if left > cap then left = cap end
  end
  local reply = left
  if left % 1 ~= 0 or left > 9e15 or left < -9e15 then reply = string.format('%.17g', left) end
  if timed ~= -1 then reply = { 1, timed, now, now, string.format('%.17g', left) } end
  if left >= cap - 1e-9 then
    if v then redis.call('DEL', key) end
    return reply
  end
  save(struct.pack('<dd', stamp, left), stamp + (cap - left) / rate + 1, cap / rate, v and expires)
  return reply
end


local fmt = '<' .. string.rep('d', n + 2)
local values = {}
for i = 1, n do
  if argc == 4 then values[i] = 1 else values[i] = ARGV[i * 3 + 2] + 0 end
end
local held = {}
local expires, since
local size = 8 * n + 16
if v and #v == size + #spec and string.find(v, spec, size + 1, true) == size + 1 then
  local s = { struct.unpack(fmt, v) }
  expires, since = s[1], s[2]
  for i = 1, n do held[i] = s[i + 2] end
  local valid = finite(expires) and plausible(since)
  for i = 1, n do valid = valid and finite(held[i]) end
  if not valid then
    discard()
    v = false
    expires, since, held = nil, nil, {}
  end
elseif v then
  -- Written for other policies, or by an older tollgate as a hash: carry buckets over by id.
  local ids = {}
  for id in string.gmatch(spec, '[^,]+') do ids[#ids + 1] = id end
  local byId = {}
  if type(v) == 'table' then
    -- Another type than a string: an older tollgate's hash, or something tollgate never wrote.
    local old = redis.pcall('HMGET', key, 'ts', unpack(ids))
    if type(old) == 'table' and old.err == nil and old[1] then
      since = tonumber(old[1])
      for i = 1, n do
        if old[i + 1] then
          byId[ids[i]] = tonumber(old[i + 1])
          if byId[ids[i]] == nil then since = nil end
        end
      end
    end
  else
    for m = 1, 16 do
      local len = #v - 8 * (m + 2)
      if len < 1 then break end
      local old = string.sub(v, 8 * (m + 2) + 1)
      local _, commas = string.gsub(old, ',', '')
      if commas == m - 1 and not string.find(old, '[^%w%.:_,-]') then
        local s = { struct.unpack('<' .. string.rep('d', m + 2), v) }
        since = s[2]
        local j = 0
        for id in string.gmatch(old, '[^,]+') do
          j = j + 1
          byId[id] = s[j + 2]
        end
        break
      end
    end
  end
  if since ~= nil then
    for i = 1, n do held[i] = byId[ids[i]] end
  end
  local valid = since ~= nil and plausible(since)
  for i = 1, n do valid = valid and (held[i] == nil or finite(held[i])) end
  if not valid then
    discard()
    v = false
    since, held = nil, {}
  end
end
local stepped = false
if since ~= nil and since > ahead then
  since = now
  expires = nil
  stepped = true
end
if since ~= nil and now < since then now = since end
local tokens = {}
local allowed = true
local stamp = now
for i = 1, n do
  local b = i * 3
  local cap = ARGV[b] + 0
  local t = cap
  if held[i] ~= nil then
    t = held[i] + (now - since) * ARGV[b + 1]
    if t > cap then t = cap end
  end
  if t == cap and upper > stamp then stamp = upper end
  tokens[i] = t
  if mode == 'c' and not (t >= values[i] - 1e-9) then allowed = false end
end
if mode == 'p' or not allowed then
  if stepped then restamp(tokens) end
  local reply = { 0, timed, now, since or now }
  for i = 1, n do reply[i + 4] = string.format('%.17g', held[i] or tokens[i]) end
  return reply
end
local need = 0
local slack = 0
for i = 1, n do
  local b = i * 3
  local cap = ARGV[b] + 0
  local rate = ARGV[b + 1] + 0
  local value = values[i]
  local left
  if mode == 'l' then
    left = tokens[i]
    if value < left then left = value end
  else
    left = tokens[i] - value
    if left > cap then left = cap end
  end
  tokens[i] = left
  if not (left >= cap - 1e-9) then
    local ms = (cap - left) / rate
    if ms > need then need = ms end
    ms = cap / rate
    if ms > slack then slack = ms end
  end
end
local out = struct.pack(string.sub(fmt, 1, n + 2), stamp, unpack(tokens, 1, n))
local reply = {}
for i = 1, n do reply[i] = string.format('%.17g', tokens[i]) end
if timed ~= -1 then
  reply = { 1, timed, now, now, unpack(reply) }
else
  reply = table.concat(reply, ' ')
end
if need == 0 then
  if v then redis.call('DEL', key) end
  return reply
end
save(out, stamp + need + 1, slack, expires)
return reply
end

local reply = decide()
if corrupt then return { 2, reply } end
return reply
`;

/**
 * One decision over `KEYS[1]`, as described above. (Its text, and so its SHA, is the script's
 * from before decisions were coalesced: servers that cached it keep answering EVALSHA.)
 */
export const BUCKET_SCRIPT = `
local key = KEYS[1]
${DECISION}`;

/** SHA-1 of the script, for EVALSHA; pinned in redis-script.test.ts. */
export const BUCKET_SCRIPT_SHA = scriptSha(BUCKET_SCRIPT);

/**
 * Many decisions in one script call (see stores/redis-batch.ts). `KEYS[i]` is decision i's key.
 * ARGV: how many argument lists follow; each list (its length, then the arguments exactly as the
 * one-decision script takes them); then, per key, the number of its list. Decisions of one limiter
 * made in the same millisecond share a list, so a call carries little more than its keys. Each
 * decision runs the very code of that script (the same text, with its key and its list as ARGV),
 * one after the other, so a key named twice sees the first decision's write; the whole call is
 * atomic, so each of its decisions is. Returns one reply per key, each what the one-decision script
 * would have returned, or `{ 3, message }` for a decision that raised an error (caught, so that one
 * fails alone, as it would have alone). On a Cluster every key of one call is in one slot. The
 * server's TIME is never asked here: a decision that reads it goes alone through BUCKET_SCRIPT, so
 * TIME never follows a write in one script.
 */
export const BATCH_SCRIPT = `
local function decision(key, ARGV)
${DECISION}end
local lists = {}
local a = 1
for l = 1, tonumber(ARGV[1]) do
  local count = tonumber(ARGV[a + 1])
  lists[l] = { unpack(ARGV, a + 2, a + 1 + count) }
  a = a + 1 + count
end
local replies = {}
for i = 1, #KEYS do
  local ok, reply = pcall(decision, KEYS[i], lists[tonumber(ARGV[a + i])])
  if not ok then
    if type(reply) == 'table' then reply = reply.err end
    reply = { 3, tostring(reply) }
  end
  replies[i] = reply
end
return replies
`;

/** SHA-1 of the batch script, for EVALSHA; pinned in redis-script.test.ts. */
export const BATCH_SCRIPT_SHA = scriptSha(BATCH_SCRIPT);
