import { ErrorCodes, TollgateError } from '../errors.js';
import { hashSlot } from './hash-slot.js';
import { type RedisConnection, type RedisScript, runScript } from './redis-clients/index.js';
import { BATCH_SCRIPT, BATCH_SCRIPT_SHA, BUCKET_SCRIPT, BUCKET_SCRIPT_SHA } from './redis-script.js';

/**
 * The most decisions one script call carries. Redis runs a script alone, so a call of 64
 * (a few hundred microseconds of Redis time) keeps other clients' commands from waiting long,
 * while the per-command cost (the client's command object, the reply, Redis's dispatch) is
 * already spread over enough decisions that a larger call saves little more.
 */
export const MAX_BATCH = 64;

const BUCKET: RedisScript = { source: BUCKET_SCRIPT, sha: BUCKET_SCRIPT_SHA };
const BATCH: RedisScript = { source: BATCH_SCRIPT, sha: BATCH_SCRIPT_SHA };

interface Pending {
  readonly key: string;
  readonly args: readonly string[];
  readonly resolve: (reply: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** Batchers by connection, so every store (and so every limiter) on one client coalesces with the others. */
const batchers = new WeakMap<RedisConnection, DecisionBatcher>();

/** The batcher of `conn`, made on first use. */
export function batcherOf(conn: RedisConnection): DecisionBatcher {
  let batcher = batchers.get(conn);
  if (batcher === undefined) {
    batcher = new DecisionBatcher(conn);
    batchers.set(conn, batcher);
  }
  return batcher;
}

/**
 * Coalesces the bucket script's calls: decisions submitted in one turn of the event loop go out
 * together as one BATCH_SCRIPT call per group of at most MAX_BATCH, when the loop reaches its
 * check phase (setImmediate: after the I/O callbacks that were ready together, such as requests
 * read from many sockets at once, never after a timer). On a Cluster, or a connection that does
 * not say it is not one, a group holds one hash slot, since one script's keys must share a slot.
 * A group of one goes out as the one-decision script, exactly as without coalescing; a group that
 * fills up goes out at once. Each decision gets its own reply (or its own error from the script);
 * a call that fails as a whole (the connection, a timeout, a reply of the wrong shape) fails each
 * of its decisions with that error.
 */
export class DecisionBatcher {
  private readonly bySlot: boolean;
  /** What a group is sent through: written at once, since it was gathered over a whole turn already. */
  private readonly sender: Pick<RedisConnection, 'evalsha' | 'eval'>;
  private groups = new Map<number, Pending[]>();
  private scheduled: NodeJS.Immediate | undefined;
  /** Script calls sent, and the decisions they carried: what the coalescing test reads. */
  calls = 0;
  decisions = 0;

  constructor(conn: RedisConnection) {
    this.bySlot = conn.cluster !== false;
    const now = conn.evalshaNow;
    this.sender = now === undefined ? conn : { evalsha: now.bind(conn), eval: conn.eval.bind(conn) };
  }

  /** Runs the bucket script on `key` with `args` (as BUCKET_SCRIPT takes them), coalesced with others. */
  submit(key: string, args: readonly string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const slot = this.bySlot ? hashSlot(key) : 0;
      let group = this.groups.get(slot);
      if (group === undefined) {
        group = [];
        this.groups.set(slot, group);
      }
      group.push({ key, args, resolve, reject });
      if (group.length >= MAX_BATCH) {
        this.groups.delete(slot);
        this.send(group);
      } else if (this.scheduled === undefined) {
        this.scheduled = setImmediate(this.flush);
      }
    });
  }

  /**
   * Sends what is waiting now. The store calls it before any other command on the connection (a
   * reset's DEL, an adjust, a peek, a decision that reads TIME), so that commands reach Redis in
   * the order they were made: a consume made before a reset is decided before it.
   */
  flushNow(): void {
    if (this.scheduled === undefined) return;
    clearImmediate(this.scheduled);
    this.flush();
  }

  private readonly flush = (): void => {
    this.scheduled = undefined;
    const groups = this.groups;
    this.groups = new Map();
    for (const group of groups.values()) this.send(group);
  };

  private send(group: Pending[]): void {
    this.calls += 1;
    this.decisions += group.length;
    if (group.length === 1) {
      const only = group[0] as Pending;
      runScript(this.sender, BUCKET, [only.key], only.args).then(only.resolve, only.reject);
      return;
    }
    const keys: string[] = [];
    const lists: (readonly string[])[] = [];
    const refs: string[] = [];
    for (const pending of group) {
      keys.push(pending.key);
      refs.push(String(listOf(lists, pending.args)));
    }
    const args: string[] = [String(lists.length)];
    for (const list of lists) {
      args.push(String(list.length));
      for (const arg of list) args.push(arg);
    }
    for (const ref of refs) args.push(ref);
    runScript(this.sender, BATCH, keys, args).then(
      (replies) => {
        if (!Array.isArray(replies) || replies.length !== group.length) {
          const error = new TollgateError(ErrorCodes.STORE_PROTOCOL, 'Unexpected reply from the tollgate Redis script');
          for (const pending of group) pending.reject(error);
          return;
        }
        for (let i = 0; i < group.length; i++) {
          const pending = group[i] as Pending;
          const reply: unknown = replies[i];
          // { 3, message }: this decision's own script error, caught so the others still stand.
          if (Array.isArray(reply) && reply[0] === 3 && reply.length === 2) pending.reject(new Error(String(reply[1])));
          else pending.resolve(reply);
        }
      },
      (error: unknown) => {
        for (const pending of group) pending.reject(error);
      },
    );
  }
}

/** How many argument lists a decision is compared with before its own is added: most calls share the latest. */
const RECENT_LISTS = 4;

/** The 1-based number of `args` in `lists`, adding it unless one of the latest lists is equal. */
function listOf(lists: (readonly string[])[], args: readonly string[]): number {
  for (let l = lists.length - 1; l >= 0 && l >= lists.length - RECENT_LISTS; l--) {
    const list = lists[l] as readonly string[];
    if (list === args || sameStrings(list, args)) return l + 1;
  }
  lists.push(args);
  return lists.length;
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
