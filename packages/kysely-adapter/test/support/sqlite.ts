import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kysely, sql } from 'kysely';
import {
  lastJsonLine,
  type ProcessResult,
  type RunningProcess,
  startNode,
} from '../../../../test/support/processes.js';
import { createSqliteDialect } from '../../src/engines/sqlite/index.js';
import type { MigrationDb } from '../../src/index.js';
import { type MigrationFolder, migrationFolder } from './migrations.js';

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

/** The outcome line a SQLite instance prints (fixtures/sqlite-migrate.mjs). */
export interface SqliteOutcome {
  readonly name: string;
  readonly applied: string[];
  readonly planned: string[];
  readonly lockWaitMs: number;
  readonly error: { code: string; message: string } | null;
}

export interface SqliteInstanceOptions {
  readonly path: string;
  readonly dir: string;
  readonly name: string;
  readonly lockTimeoutMs?: number;
  readonly leaseTtlMs?: number;
  readonly startAt?: number;
  readonly dryRun?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

const SQLITE_MIGRATE = fileURLToPath(new URL('../fixtures/sqlite-migrate.mjs', import.meta.url));

/** Starts one application instance (a real node process, on the built packages) migrating the file. */
export function startSqliteInstance(options: SqliteInstanceOptions): RunningProcess {
  const args = [
    `--path=${options.path}`,
    `--dir=${options.dir}`,
    `--name=${options.name}`,
    `--lock-timeout=${options.lockTimeoutMs ?? 60_000}`,
    `--start-at=${options.startAt ?? 0}`,
  ];
  if (options.leaseTtlMs !== undefined) args.push(`--lease-ttl=${options.leaseTtlMs}`);
  if (options.dryRun) args.push('--dry-run');
  return startNode(SQLITE_MIGRATE, args, { env: options.env, timeoutMs: 180_000 });
}

export function sqliteOutcome(result: ProcessResult): SqliteOutcome {
  return lastJsonLine<SqliteOutcome>(result);
}

/**
 * A migrations folder for SQLite: the first creates an audit table that every later one writes to, once per
 * run that applies it (code migrations write the name of the instance, SQL ones "sql").
 */
export async function sqliteAuditedMigrations(
  count: number,
  extra: Record<string, string> = {},
): Promise<MigrationFolder> {
  const files: Record<string, string> = {
    '000_audit.sql':
      "create table audit (migration text not null, app text not null, at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')));\n",
  };
  for (let i = 1; i <= count; i++) {
    const name = `${String(i).padStart(3, '0')}_step`;
    files[`${name}.sql`] =
      `create table t_${i} (id integer);\ninsert into audit (migration, app) values ('${name}', 'sql');\n`;
  }
  return migrationFolder({ ...files, ...extra });
}

/**
 * A code migration that writes its audit row, prints `started <name>`, then waits until `gate` exists (or a
 * minute): a holder that stays inside its migration for as long as the test needs.
 */
export function gatedMigration(name: string, gate: string): string {
  return `import { existsSync } from 'node:fs';
export async function up(db) {
  await db.insertInto('audit').values({ migration: ${JSON.stringify(name)}, app: process.env.MIG_APP }).execute();
  console.log('started ${name}');
  for (let i = 0; i < 1200 && !existsSync(${JSON.stringify(gate)}); i++) await new Promise((r) => setTimeout(r, 50));
}
`;
}

/** A code migration that only writes its audit row. */
export function quickMigration(name: string): string {
  return `export async function up(db) {
  await db.insertInto('audit').values({ migration: ${JSON.stringify(name)}, app: process.env.MIG_APP }).execute();
}
`;
}
