import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PGliteDialect } from '@mig/kysely-adapter/pglite';
import { Kysely } from 'kysely';
import { PGLITE_TEMPLATE } from './paths.js';

export interface TestPGlite {
  readonly pglite: PGlite;
  readonly db: Kysely<any>;
  readonly dataDir: string;
  close(): Promise<void>;
}

/**
 * A PGlite on a copy of the template data directory made by the global setup: a fresh in-memory PGlite
 * takes seconds to initialise, a copied data directory well under one.
 */
export async function createTestPGlite(): Promise<TestPGlite> {
  const dataDir = await mkdtemp(join(tmpdir(), 'mig-pglite-'));
  await cp(PGLITE_TEMPLATE, dataDir, { recursive: true });
  const pglite = new PGlite(dataDir);
  const db = new Kysely<any>({ dialect: new PGliteDialect({ pglite }) });
  return {
    pglite,
    db,
    dataDir,
    async close() {
      // db.destroy() closes PGlite only once Kysely has opened it; one never queried is closed here, and
      // only then is its data directory removed from under it.
      await db.destroy();
      await pglite.waitReady.catch(() => {});
      if (!pglite.closed) await pglite.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
