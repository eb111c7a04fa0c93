// What every child script shares: JSON lines to the parent, a statement counter, the start signal.
import pg from 'pg';
import { type Counter, countQueries } from '../counting.js';

/** Sends one message to the parent (see `startChild`). */
export function emit(event: string, data: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
}

/**
 * Counts every statement and round trip any pg client of this process sends. A child builds its pool the
 * way an application does (`createPgDialect` owns its pool), so the count patches the client class itself.
 */
export function countStatements(): { readonly count: number; readonly roundTrips: number } {
  const counter: Counter = countQueries(pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown });
  return {
    get count() {
      return counter.statements;
    },
    get roundTrips() {
      return counter.roundTrips;
    },
  };
}

/** Resolves when the parent writes its start line; the parent starts every child of a race at once. */
export function waitForStart(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk: string) => {
      if (chunk.includes('\n')) {
        process.stdin.destroy();
        resolve();
      }
    });
  });
}

/** Fails the child loudly: the parent reports stderr and the exit code. */
export function failed(error: unknown): never {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
}
