import type { MigrationDb } from './db.js';

/** One connection of Kysely's pool, kept until `close()` (a lock's own session). */
export interface HeldConnection {
  readonly conn: MigrationDb;
  close(): Promise<void>;
}

/**
 * Takes one connection from Kysely's pool and keeps it until `close()`: Kysely lends a connection only for
 * the length of a callback, so the callback waits on a promise that `close()` resolves.
 */
export function holdConnection(db: MigrationDb): Promise<HeldConnection> {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  return new Promise((resolve, reject) => {
    const finished = db.connection().execute(async (conn) => {
      resolve({
        conn,
        close: async () => {
          release();
          await finished.catch(() => {});
        },
      });
      await released;
    });
    finished.catch(reject);
  });
}

/**
 * A dedicated connection for a lock's session; a server refusing connections for now (too many clients,
 * starting up: `transient` tells) is tried again with backoff until `signal` aborts (the lock's timeout),
 * since a full server is a wait for the lock like any other. Without a signal, one try.
 */
export async function holdConnectionWhenFree(
  db: MigrationDb,
  transient: (error: unknown) => boolean,
  signal: AbortSignal | undefined,
): Promise<HeldConnection> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await holdConnection(db);
    } catch (error) {
      if (signal === undefined || signal.aborted || !transient(error)) throw error;
      const delay = Math.min(1_000, 50 * 2 ** attempt) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
