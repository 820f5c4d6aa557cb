import { createHash } from 'node:crypto';

/**
 * One token-bucket decision, atomically, in Redis. Mirrors `refill` and `covers` from
 * limiter/bucket.ts operation for operation, and keeps full double precision with `%.17g`,
 * so a RedisStore and a MemoryStore given the same calls reach the same states.
 *
 * KEYS[1]  a hash: `ts` (ms of the last debit) and one field per bucket (tokens then)
 * ARGV     mode, app clock ms, '1' to use the server's TIME, bucket count, then per bucket:
 *          field, capacity, tokens per ms, value. Modes: 'c' consume (take every value, or none
 *          if any bucket falls short), 'a' adjust (take them unconditionally), 'l' lower (cap each
 *          bucket at its value), 'p' peek.
 * returns  { allowed (1|0), clock used (1 server | 0 app), tokens per bucket as strings }
 */
export const BUCKET_SCRIPT = `
local key = KEYS[1]
local mode = ARGV[1]
local now = tonumber(ARGV[2])
local clock = 0
if ARGV[3] == '1' and (redis.replicate_commands == nil or redis.replicate_commands()) then
  local ok, t = pcall(redis.call, 'TIME')
  if ok then
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    clock = 1
  end
end
local n = tonumber(ARGV[4])
local fields = { 'ts' }
for i = 1, n do fields[i + 1] = ARGV[1 + i * 4] end
local state = redis.call('HMGET', key, unpack(fields))
local since = tonumber(state[1])
local tokens = {}
local allowed = 1
for i = 1, n do
  local base = 1 + i * 4
  local cap = tonumber(ARGV[base + 1])
  local rate = tonumber(ARGV[base + 2])
  local cost = tonumber(ARGV[base + 3])
  local held = tonumber(state[i + 1])
  local t = cap
  if held ~= nil and since ~= nil then
    t = math.min(cap, held + math.max(0, now - since) * rate)
  end
  tokens[i] = t
  if mode == 'c' and not (t >= cost - 1e-9) then allowed = 0 end
end
if mode ~= 'p' and allowed == 1 then
  local ttl = 0
  local write = { 'ts', string.format('%d', now) }
  for i = 1, n do
    local base = 1 + i * 4
    local cap = tonumber(ARGV[base + 1])
    local rate = tonumber(ARGV[base + 2])
    local value = tonumber(ARGV[base + 3])
    local left
    if mode == 'l' then left = math.min(tokens[i], value) else left = math.min(cap, tokens[i] - value) end
    tokens[i] = left
    write[#write + 1] = ARGV[base]
    write[#write + 1] = string.format('%.17g', left)
    if not (left >= cap - 1e-9) then
      ttl = math.max(ttl, math.ceil((cap - left) / rate) + 1)
    end
  end
  if ttl > 0 then
    redis.call('HSET', key, unpack(write))
    redis.call('PEXPIRE', key, ttl)
  else
    redis.call('DEL', key)
  end
end
local out = { allowed, clock }
for i = 1, n do out[i + 2] = string.format('%.17g', tokens[i]) end
return out
`;

/** SHA-1 of the script, for EVALSHA. */
export const BUCKET_SCRIPT_SHA = createHash('sha1').update(BUCKET_SCRIPT).digest('hex');
