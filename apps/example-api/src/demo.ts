// The example app's tour. For now it applies the app's migrations to the embedded PGlite database (kept in
// .data/pglite between runs) and prints what happened; the HTTP tour arrives with the service.
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { createMigrator } from '@mig/core';
import { createFolderSource, createKyselyStore } from '@mig/kysely-adapter';
import { PGliteDialect } from '@mig/kysely-adapter/pglite';
import { Kysely } from 'kysely';

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(appDir, '.data', 'pglite');
mkdirSync(dataDir, { recursive: true });

const db = new Kysely<unknown>({ dialect: new PGliteDialect({ pglite: new PGlite(dataDir) }) });
const migrator = createMigrator({
  source: createFolderSource(join(appDir, 'migrations')),
  store: createKyselyStore({ db, target: { system: 'postgresql', namespace: 'pglite', server: 'embedded' } }),
});
try {
  const result = await migrator.up();
  for (const r of result.results) console.log(`${r.status.padEnd(8)} ${r.name} (${r.durationMs.toFixed(1)} ms)`);
  if (result.error) throw result.error;
  const status = await migrator.status();
  console.log(`status: ${status.state}, ${status.appliedCount} applied, ${status.pending.length} pending`);
} finally {
  await db.destroy();
}
