import type { MigrationDb } from '../sources.js';

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
