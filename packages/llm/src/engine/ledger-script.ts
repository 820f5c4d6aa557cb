import { createHash } from 'node:crypto';

/**
 * Names a ledger must never use as a key: each is a property every plain object already has, so
 * code reading counters into objects (a caller's, or an older tollgate's) would write through to
 * `Object.prototype`. The ledger keeps counters in prototype-free maps anyway; refusing the names
 * keeps them out of Redis, where every reader in every process would meet them.
 */
export const UNSAFE_RECORD_KEYS: readonly string[] = Object.freeze([
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toString',
  'toLocaleString',
  'valueOf',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
]);

/**
 * Records one call in the usage ledger atomically: checks every field and increment first, so a
 * bad one writes nothing, then marks its request id (once per id), then adds every counter.
 * KEYS[1] the day's hash, KEYS[2] the request-id marker (KEYS[1] when the call has no id); ARGV:
 * TTL seconds, '1' if there is an id, then field/increment pairs, each field `model:counter`
 * (a model id of 1 to 128 characters, no colon, space or control character, none of the unsafe
 * names; a provider's `safeModelId` is stricter).
 * Returns 1 when recorded, 0 when the id was already there, an error reply for a bad field.
 */
export const LEDGER_SCRIPT = `
local unsafe = { ${UNSAFE_RECORD_KEYS.map((k) => `['${k}'] = true`).join(', ')} }
for i = 3, #ARGV, 2 do
  local model, counter = string.match(ARGV[i], '^([^:%s%c]+):(%a%w*)$')
  local n = ARGV[i + 1]
  if model == nil or #model > 128 or unsafe[model] or n == nil or not string.match(n, '^%-?%d+$') then
    return redis.error_reply('TOLLGATE_LEDGER_FIELD refused: ' .. tostring(ARGV[i]))
  end
end
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

/** Whether `name` may be a key of ledger counters: one of the script's unsafe names may not. */
export function isSafeRecordKey(name: string): boolean {
  return !UNSAFE_RECORD_KEYS.includes(name);
}
