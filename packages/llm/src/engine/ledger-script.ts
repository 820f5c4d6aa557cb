import { createHash } from 'node:crypto';

/**
 * Records one call in the usage ledger atomically: marks its request id (once per id), then
 * adds every counter. KEYS[1] the day's hash, KEYS[2] the request-id marker (KEYS[1] when the
 * call has no id); ARGV: TTL seconds, '1' if there is an id, then field/increment pairs.
 * Returns 1 when recorded, 0 when the id was already there.
 */
export const LEDGER_SCRIPT = `
if ARGV[2] == '1' then
  if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[1]) then return 0 end
end
for i = 3, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
`;

export const LEDGER_SCRIPT_SHA = createHash('sha1').update(LEDGER_SCRIPT).digest('hex');
