import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PGLITE_TEMPLATE } from './support/paths.js';
import { PG_ADMIN_URL } from './support/postgres.js';

/** Fails the whole run, loudly, when PostgreSQL is missing: tests never skip silently. */
async function requirePostgres(): Promise<void> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL, connectionTimeoutMillis: 5_000 });
  try {
    await client.connect();
    await client.query('select 1');
  } catch (error) {
    throw new Error(
      `The tests need PostgreSQL at ${new URL(PG_ADMIN_URL).host} and could not reach it (${(error as Error).message}). ` +
        'Start it (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start) or set MIG_TEST_PG_URL.',
    );
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensurePGliteTemplate(): Promise<void> {
  if (existsSync(`${PGLITE_TEMPLATE}/PG_VERSION`)) return;
  const building = `${PGLITE_TEMPLATE}.${process.pid}`;
  await rm(building, { recursive: true, force: true });
  await mkdir(building, { recursive: true });
  const pglite = new PGlite(building);
  await pglite.waitReady;
  await pglite.close();
  await rm(PGLITE_TEMPLATE, { recursive: true, force: true });
  await rename(building, PGLITE_TEMPLATE);
}

export default async function setup(): Promise<void> {
  await Promise.all([requirePostgres(), ensurePGliteTemplate()]);
}
