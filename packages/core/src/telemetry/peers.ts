import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type * as PromClient from 'prom-client';
import { ErrorCodes, TollgateError } from '../errors.js';

/**
 * `@opentelemetry/api` and `prom-client` are optional peer dependencies: a rate limiter alone
 * needs neither, so they are looked up the first time telemetry or metrics are used, not when
 * tollgate is imported. `require` keeps the lookup synchronous (spans and metrics are recorded
 * on the request path). In Node, `import '@opentelemetry/api'` resolves to the same CommonJS build,
 * and the API keeps its state on a global anyway, so an app's own SDK and tollgate share it.
 * (The CommonJS build gets `import.meta.url` from tsup's shims.)
 */
const load = createRequire(import.meta.url);

/** What to install for each peer: the ranges `@tollgate/core` declares. */
const INSTALL: Readonly<Record<Peer, string>> = {
  '@opentelemetry/api': '@opentelemetry/api@1.9',
  'prom-client': 'prom-client@15',
};

type Peer = '@opentelemetry/api' | 'prom-client';

/** A loaded module, or `null` once it was found missing (looked up once per process). */
const loaded = new Map<Peer, unknown>();

function lookUp<T>(peer: Peer): T | undefined {
  if (!loaded.has(peer)) {
    try {
      loaded.set(peer, load(peer));
    } catch (error) {
      if (!isNotFound(error, peer)) throw error;
      loaded.set(peer, null);
    }
  }
  return (loaded.get(peer) ?? undefined) as T | undefined;
}

/** Only "this package is not installed": a broken install of it must not pass for a missing one. */
function isNotFound(error: unknown, peer: Peer): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  return code === 'MODULE_NOT_FOUND' && typeof message === 'string' && message.includes(`'${peer}'`);
}

function missing(peer: Peer, feature: string): TollgateError {
  return new TollgateError(
    ErrorCodes.PEER_DEPENDENCY_MISSING,
    `tollgate: ${feature} needs ${peer}, an optional peer dependency that is not installed: npm install ${INSTALL[peer]}`,
  );
}

/** `@opentelemetry/api`, or `undefined` when it is not installed (then no span can exist either). */
export function otelApiIfInstalled(): typeof OtelApi | undefined {
  return lookUp<typeof OtelApi>('@opentelemetry/api');
}

/** `@opentelemetry/api` for `feature`; throws `TOLLGATE_PEER_DEPENDENCY_MISSING` naming it when missing. */
export function otelApi(feature: string): typeof OtelApi {
  const api = otelApiIfInstalled();
  if (api === undefined) throw missing('@opentelemetry/api', feature);
  return api;
}

/** `prom-client`, or `undefined` when it is not installed (then nothing can be scraped either). */
export function promClientIfInstalled(): typeof PromClient | undefined {
  return lookUp<typeof PromClient>('prom-client');
}

/** `prom-client` for `feature`; throws `TOLLGATE_PEER_DEPENDENCY_MISSING` naming it when missing. */
export function promClient(feature: string): typeof PromClient {
  const prom = promClientIfInstalled();
  if (prom === undefined) throw missing('prom-client', feature);
  return prom;
}

/**
 * Test hook: pretends `peer` is not installed (`true`), or forgets the pretence (`false`), so the
 * missing-peer paths run in-process. The packed-tarball tests check the real thing.
 *
 * @internal
 */
export function simulateMissingPeer(peer: Peer, isMissing: boolean): void {
  if (isMissing) loaded.set(peer, null);
  else loaded.delete(peer);
}
