import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { createSqliteDialect } from '../../src/engines/sqlite/index.js';
import type { MigrationDb } from '../../src/index.js';

/** A fresh SQLite file in a folder of its own, for one test; the folder is removed by `close`. */
export interface TestSqlite {
  /** The database file (not created until something writes to it). */
  readonly path: string;
  readonly dir: string;
  /** A Kysely on the file, closed by `close`. */
  readonly db: MigrationDb;
  /** Another Kysely on the same file (another connection, as another instance would have), closed by `close`. */
  open(): MigrationDb;
  /** Whether the file exists. */
  exists(): boolean;
  /** Names of the tables in the file matching a GLOB pattern (reads only). */
  tables(pattern?: string): Promise<string[]>;
  close(): Promise<void>;
}

export async function createTestSqlite(prefix = 'mig-sqlite-'): Promise<TestSqlite> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const path = join(dir, 'data', 'app.db');
  const opened: MigrationDb[] = [];
  const open = () => {
    const db = new Kysely<any>({ dialect: createSqliteDialect({ path }) });
    opened.push(db);
    return db;
  };
  const db = open();
  return {
    path,
    dir,
    db,
    open,
    exists: () => existsSync(path),
    async tables(pattern = '*') {
      const { rows } = await sql<{ name: string }>`
        select name from sqlite_master where type = 'table' and name glob ${pattern} order by name`.execute(db);
      return rows.map((r) => r.name);
    },
    async close() {
      await Promise.all(opened.map((d) => d.destroy().catch(() => {})));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
