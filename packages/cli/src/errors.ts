/**
 * Exit codes: 0 success; 1 a failure Redis answered with (no such limiter, not a bucket, a wrong
 * password); 2 a usage error; 3 Redis unreachable or not answering within --timeout, the one a
 * script may retry.
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
export const EXIT_UNREACHABLE = 3;

/** A failure the CLI reports as one line on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** One line, whatever the error: the CLI never prints a stack trace for an expected failure. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}
