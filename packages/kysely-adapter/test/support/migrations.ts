import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary migrations folder that tests can edit between runs. */
export interface MigrationFolder {
  readonly dir: string;
  write(file: string, content: string): Promise<void>;
  remove(file: string): Promise<void>;
  dispose(): Promise<void>;
}

export async function migrationFolder(files: Record<string, string> = {}): Promise<MigrationFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-migrations-'));
  const folder: MigrationFolder = {
    dir,
    write: (file, content) => writeFile(join(dir, file), content),
    remove: (file) => unlink(join(dir, file)),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [file, content] of Object.entries(files)) await folder.write(file, content);
  return folder;
}

/**
 * A migrations folder whose first migration creates an audit table that every later one writes one row to,
 * once per run that applies it: `app` says who (an instance's name from code migrations; from SQL ones, what
 * `currentApp` evaluates to: PostgreSQL's application name, or 'sql'). Steps create a table, add a column to
 * it and write their row; every third writes its row only (a migration of data alone).
 */
export async function auditedMigrations(
  currentApp: string,
  steps: number,
  extra: Record<string, string> = {},
): Promise<MigrationFolder> {
  const files: Record<string, string> = {
    '000_audit.sql': `create table audit (migration varchar(64) not null, app varchar(64) not null default ${currentApp});\n`,
  };
  for (let i = 1; i <= steps; i++) {
    const name = stepName(i);
    files[`${name}.sql`] =
      i % 3 === 0
        ? `insert into audit (migration) values ('${name}');\n`
        : `create table t_${i} (id int);\nalter table t_${i} add column note text;\ninsert into audit (migration) values ('${name}');\n`;
  }
  return migrationFolder({ ...files, ...extra });
}

/** The name of an audited folder's `i`th step: `001_step`. */
export function stepName(i: number): string {
  return `${String(i).padStart(3, '0')}_step`;
}

/** A code migration that creates a table of its own (DDL, through Kysely's schema builder) and writes its audit row. */
export function codeMigration(name: string, table: string): string {
  return `export async function up(db) {
  await db.schema.createTable(${JSON.stringify(table)}).addColumn('id', 'integer').execute();
  await db.insertInto('audit').values({ migration: ${JSON.stringify(name)}, app: process.env.MIG_APP }).execute();
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

/**
 * A code migration that writes its audit row, prints `started <name>`, then waits in the instance until
 * `gate` exists, or a minute: a holder that stays inside its migration for as long as the test needs.
 */
export function gatedMigration(name: string, gate?: string): string {
  const open = gate === undefined ? 'false' : `existsSync(${JSON.stringify(gate)})`;
  return `import { existsSync } from 'node:fs';
export async function up(db) {
  await db.insertInto('audit').values({ migration: ${JSON.stringify(name)}, app: process.env.MIG_APP }).execute();
  console.log('started ${name}');
  for (let i = 0; i < 1200 && !${open}; i++) await new Promise((r) => setTimeout(r, 50));
}
`;
}
