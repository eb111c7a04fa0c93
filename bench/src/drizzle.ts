// Drizzle's migrator as a peer in the full apply: the same .sql up parts, in drizzle-kit's layout
// (`meta/_journal.json` listing `NNNN_tag.sql` files), applied with `migrate()` of drizzle-orm/node-postgres,
// which runs every pending migration in one transaction and records each in `drizzle.__drizzle_migrations`.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import type pg from 'pg';
import type { MigrationFolder } from './migrations.js';

/** Where Drizzle keeps its records (for the count of transactions that wrote them). */
export const DRIZZLE_TABLE = 'drizzle.__drizzle_migrations';

/** A drizzle-kit folder with the up part of each `.sql` file of `folder`, in the same order. */
export async function drizzleFolder(
  folder: MigrationFolder,
): Promise<{ readonly dir: string; dispose(): Promise<void> }> {
  const files = (await readdir(folder.dir)).filter((f) => f.endsWith('.sql')).sort();
  const dir = await mkdtemp(join(tmpdir(), 'mig-bench-drizzle-'));
  await mkdir(join(dir, 'meta'));
  const entries = [];
  for (const [idx, file] of files.entries()) {
    const text = await readFile(join(folder.dir, file), 'utf8');
    const up = text.split(/^-- mig:down.*$/m)[0] ?? text;
    const tag = `${String(idx).padStart(4, '0')}_${file.replace(/\.sql$/, '').replace(/^\d+_/, '')}`;
    await writeFile(join(dir, `${tag}.sql`), up);
    entries.push({ idx, version: '7', when: 1_700_000_000_000 + idx, tag, breakpoints: true });
  }
  await writeFile(join(dir, 'meta', '_journal.json'), JSON.stringify({ version: '7', dialect: 'postgresql', entries }));
  return { dir, dispose: () => rm(dir, { recursive: true, force: true }) };
}

/** Drizzle's `migrate()` on `pool`; returns how many migrations it recorded. */
export async function drizzleMigrate(pool: pg.Pool, dir: string): Promise<number> {
  await migrate(drizzle({ client: pool }), { migrationsFolder: dir });
  const { rows } = await pool.query<{ n: number }>(`select count(*)::int as n from ${DRIZZLE_TABLE}`);
  return rows[0]?.n ?? 0;
}
