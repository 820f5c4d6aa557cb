import { constants } from 'node:os';
import { consoleLogger, InvalidOptionError, type Logger } from '@tollgate/core';
import { timerMs } from '@tollgate/core/adapter';

/** The signals `shutdownOnSignals` may handle: the ones that ask a server to stop. */
export const SHUTDOWN_SIGNALS = Object.freeze(['SIGTERM', 'SIGINT', 'SIGHUP'] as const);
export type ShutdownSignal = (typeof SHUTDOWN_SIGNALS)[number];

/** `shutdownOnSignals: true`: what Kubernetes, Docker and systemd send, and Ctrl-C. */
export const DEFAULT_SHUTDOWN_SIGNALS: readonly ShutdownSignal[] = Object.freeze(['SIGTERM', 'SIGINT']);

/**
 * Longest wait for the flush before exiting anyway: well inside Kubernetes' default 30 s grace
 * period, and shorter than the OTLP exporter's own 10 s timeout, so a collector that does not
 * answer cannot hold a stopping pod.
 */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 5000;

/** The signals from the `shutdownOnSignals` option, or undefined when it is off. */
export function parseShutdownSignals(value: unknown): readonly ShutdownSignal[] | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return DEFAULT_SHUTDOWN_SIGNALS;
  const accepted = `accepted: true, false, or a non-empty array of ${SHUTDOWN_SIGNALS.map((s) => `'${s}'`).join(', ')}`;
  if (!Array.isArray(value) || value.length === 0) throw new InvalidOptionError('shutdownOnSignals', value, accepted);
  for (const signal of value) {
    if (!(SHUTDOWN_SIGNALS as readonly unknown[]).includes(signal)) {
      throw new InvalidOptionError('shutdownOnSignals', value, accepted);
    }
  }
  return Object.freeze([...new Set(value as ShutdownSignal[])]);
}

/** `shutdownTimeoutMs`, which only means something when signals are handled. */
export function parseShutdownTimeout(value: unknown, signals: readonly ShutdownSignal[] | undefined): number {
  if (value === undefined) return DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (signals === undefined) {
    throw new InvalidOptionError('shutdownTimeoutMs', value, 'it bounds the flush on a signal: set shutdownOnSignals');
  }
  return timerMs(value, 'shutdownTimeoutMs');
}

/** The exit code a shell reports for a process ended by `signal`: 128 + its number. */
export function signalExitCode(signal: ShutdownSignal): number {
  return 128 + constants.signals[signal];
}

/**
 * On the first of `signals`: runs `shutdown` (the telemetry flush), waits for it at most
 * `timeoutMs`, then exits with 128 + the signal's number (143 for SIGTERM), as a process the
 * signal had ended would. Listening to a signal replaces Node's default exit, which is why a
 * handler that only flushes leaves the process running. Returns a function that removes the
 * listeners (the handle's `shutdown()` calls it).
 *
 * The listeners are removed as the first signal arrives, so a second one gets Node's default
 * behaviour again (or the app's own listeners): pressing Ctrl-C twice ends a stuck flush at once.
 */
export function exitOnSignals(
  signals: readonly ShutdownSignal[],
  timeoutMs: number,
  shutdown: () => Promise<void>,
  log: Logger = consoleLogger,
): () => void {
  const remove = () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
  function onSignal(signal: ShutdownSignal): void {
    remove();
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, timeoutMs, 'timeout');
    });
    const flushed = shutdown().then(
      () => 'flushed' as const,
      (error: unknown) => {
        log.error({ signal, err: error }, 'telemetry shutdown failed; exiting');
        return 'failed' as const;
      },
    );
    void Promise.race([flushed, bound]).then((how) => {
      clearTimeout(timer);
      if (how === 'timeout') log.warn({ signal, timeoutMs }, 'telemetry flush did not finish in time; exiting');
      process.exit(signalExitCode(signal));
    });
  }
  for (const signal of signals) process.on(signal, onSignal);
  return remove;
}
