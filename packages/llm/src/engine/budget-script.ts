import { createHash } from 'node:crypto';

/**
 * Reserves a call's worst-case cost against one or more spend budgets, atomically: every budget
 * has room, or nothing is reserved. Reservations live in a sorted set scored by when they expire,
 * so one left behind by a process that died stops counting by itself.
 * KEYS: per budget, its hash (field `spent`, micro-dollars) and its reservation set.
 * ARGV: now ms, micros, member, expires-at ms, budget count, then each budget's cap, then TTL s.
 * Returns 0 when reserved, else the 1-based index of the first budget without room.
 */
export const RESERVE_SCRIPT = `
local now = tonumber(ARGV[1])
local micros = tonumber(ARGV[2])
local n = tonumber(ARGV[5])
for i = 1, n do
  local reservations = KEYS[2 * i]
  redis.call('ZREMRANGEBYSCORE', reservations, '-inf', now)
  local held = 0
  for _, member in ipairs(redis.call('ZRANGE', reservations, 0, -1)) do
    held = held + tonumber(string.match(member, ':(%d+)$'))
  end
  local spent = tonumber(redis.call('HGET', KEYS[2 * i - 1], 'spent') or '0')
  if spent + held + micros > tonumber(ARGV[5 + i]) then return i end
end
for i = 1, n do
  redis.call('ZADD', KEYS[2 * i], ARGV[4], ARGV[3])
  redis.call('EXPIRE', KEYS[2 * i], ARGV[5 + n + i])
end
return 0
`;

/** Releases a reservation and adds the real cost. ARGV: member, micros spent, then TTL s per budget. */
export const SETTLE_SCRIPT = `
local n = #KEYS / 2
for i = 1, n do
  redis.call('ZREM', KEYS[2 * i], ARGV[1])
  redis.call('HINCRBY', KEYS[2 * i - 1], 'spent', ARGV[2])
  redis.call('EXPIRE', KEYS[2 * i - 1], ARGV[2 + i])
end
return 1
`;

export const RESERVE_SCRIPT_SHA = createHash('sha1').update(RESERVE_SCRIPT).digest('hex');
export const SETTLE_SCRIPT_SHA = createHash('sha1').update(SETTLE_SCRIPT).digest('hex');
