// Cold start with mig as a library: a new process that builds a migrator (folder source, Kysely store on
// mig's pg dialect, advisory lock) and reads the status of an up-to-date database.
import { parseArgs } from 'node:util';
import { createMigrator } from '@mig/core';
import { createFolderSource, createKyselyAdapter, describeConnection } from '@mig/kysely-adapter';
import { createPgDialect } from '@mig/kysely-adapter/pg';
import { Kysely } from 'kysely';
import { countStatements, emit, failed } from './protocol.js';

const importedAt = performance.now();
const { values } = parseArgs({ options: { url: { type: 'string' }, dir: { type: 'string' } } });
const url = values.url as string;
const statements = countStatements();

try {
  const db = new Kysely<any>({ dialect: createPgDialect({ url, max: 2, applicationName: 'mig-bench-cold-migrator' }) });
  const adapter = createKyselyAdapter({ db, target: describeConnection(url) });
  const migrator = createMigrator({
    source: createFolderSource(values.dir as string),
    store: adapter.store,
    lock: adapter.createLock({ strategy: 'advisory' }),
  });
  const status = await migrator.status();
  const readyAt = performance.now();
  emit('ready', { importedAt, readyAt, statements: statements.count, migrations: status.state });
  await db.destroy();
} catch (error) {
  failed(error);
}
