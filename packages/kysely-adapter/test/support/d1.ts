import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, sql } from 'kysely';
import { Miniflare } from 'miniflare';
import { createD1Dialect, type D1DatabaseLike } from '../../src/engines/d1/index.js';
import type { MigrationDb } from '../../src/index.js';

// Local D1 databases for the tests, as miniflare (and `wrangler dev`) keeps them: a persist folder holding
// the SQLite file of each binding, reached in this process through miniflare's workerd.

/** A Worker that does nothing: miniflare needs one to hold the D1 binding. */
export const IDLE_WORKER = 'export default { fetch() { return new Response(null, { status: 204 }); } }';

/** The tables a D1 database keeps for itself (`_cf_KV`) and SQLite's own. */
export const isUserTable = (name: string) => !name.startsWith('_cf_') && !name.startsWith('sqlite_');

/** A local D1 database in a fresh persist folder, with a miniflare on it; `close` disposes both. */
export interface TestD1 {
  /** The persist folder (`d1Persist`). */
  readonly dir: string;
  /** The URL the CLI opens it with. */
  readonly url: string;
  readonly binding: D1DatabaseLike;
  /** A Kysely on it through mig's D1 dialect, closed by `close`. */
  readonly db: MigrationDb;
  /** Another Kysely on the same binding. */
  connect(): MigrationDb;
  /** Its user tables, sorted. */
  tables(): Promise<string[]>;
  /** Drops every user table: an empty database again, without starting another workerd. */
  wipe(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the D1 database `DB` in `dir` through a miniflare of its own (disposed with the database's Kysely). */
export async function openLocalD1(dir: string): Promise<{ mf: Miniflare; binding: D1DatabaseLike }> {
  const mf = new Miniflare({ modules: true, script: IDLE_WORKER, d1Databases: ['DB'], d1Persist: dir });
  return { mf, binding: (await mf.getD1Database('DB')) as unknown as D1DatabaseLike };
}

export async function createTestD1(prefix = 'mig-d1-'): Promise<TestD1> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const { mf, binding } = await openLocalD1(dir);
  const opened: MigrationDb[] = [];
  const connect = () => {
    const db = new Kysely<any>({ dialect: createD1Dialect(binding) });
    opened.push(db);
    return db;
  };
  const db = connect();
  const tables = async () => {
    const { rows } = await sql<{ name: string }>`
      select name from sqlite_master where type = 'table' order by name`.execute(db);
    return rows.map((r) => r.name).filter(isUserTable);
  };
  return {
    dir,
    url: `d1:${dir}?binding=DB`,
    binding,
    db,
    connect,
    tables,
    async wipe() {
      const names = await tables();
      if (names.length > 0) await binding.batch(names.map((name) => binding.prepare(`drop table "${name}"`)));
    },
    async close() {
      await Promise.all(opened.map((d) => d.destroy().catch(() => {})));
      await mf.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
