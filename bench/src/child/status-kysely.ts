// The status of an up-to-date database as Kysely's Migrator reports it, as a whole process: import Kysely
// and pg, read the migrations folder and the executed ones, print them, exit.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { FileMigrationProvider, Kysely, Migrator, PostgresDialect } from 'kysely';
import pg from 'pg';
import { failed } from './protocol.js';

const { values } = parseArgs({ options: { url: { type: 'string' }, dir: { type: 'string' } } });

try {
  const pool = new pg.Pool({ connectionString: values.url, max: 1, application_name: 'mig-bench-status-kysely' });
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: values.dir as string }),
  });
  const migrations = await migrator.getMigrations();
  const pending = migrations.filter((m) => m.executedAt === undefined).length;
  process.stdout.write(`${migrations.length} migrations, ${pending} pending\n`);
  await db.destroy();
} catch (error) {
  failed(error);
}
