import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { mig, type Workspace, workspace } from './support.js';

// A Prisma folder as Prisma writes it (a lock file, one folder per migration, an enum change wrapped in its
// own BEGIN … COMMIT), read by the real `mig` against a real PostgreSQL.

describe('mig on a Prisma history', () => {
  let database: TestDatabase;
  let ws: Workspace;
  const run = (args: string[]) => mig(args, { cwd: ws.dir, env: { DATABASE_URL: database.url } });

  beforeEach(async () => {
    database = await createTestDatabase('cli_layouts');
    ws = await workspace({ 'migration_lock.toml': 'provider = "postgresql"\n' });
    const files: Record<string, string> = {
      '20240101000000_init/migration.sql':
        '-- CreateEnum\nCREATE TYPE "Role" AS ENUM (\'USER\');\n\n-- CreateTable\nCREATE TABLE "User" ("id" SERIAL PRIMARY KEY, "role" "Role" NOT NULL);\n',
      '20240102000000_admin/migration.sql':
        '-- AlterEnum\nBEGIN;\nCREATE TYPE "Role_new" AS ENUM (\'USER\', \'ADMIN\');\nALTER TABLE "User" ALTER COLUMN "role" TYPE "Role_new" USING ("role"::text::"Role_new");\nDROP TYPE "Role";\nALTER TYPE "Role_new" RENAME TO "Role";\nCOMMIT;\n',
      '20240103000000_noop/migration.sql': '-- This is an empty migration.\n',
    };
    for (const [file, content] of Object.entries(files)) {
      await mkdir(join(ws.migrations, file, '..'), { recursive: true });
      await writeFile(join(ws.migrations, file), content);
    }
  });
  afterEach(async () => {
    await database.drop();
    await ws.dispose();
  });

  it('status says it read the Prisma layout, and which migration controls its own transaction', async () => {
    const status = await run(['status', '--json']);
    expect(status.code, status.stderr).toBe(0);
    expect(status.json()).toMatchObject({
      layout: 'prisma',
      pending: ['20240101000000_init', '20240102000000_admin', '20240103000000_noop'],
      pendingTransactions: { '20240102000000_admin': 'own' },
    });
    expect((await run(['status'])).stdout).toContain('(read as Prisma layout)');

    const up = await run(['up']);
    expect(up.code, up.stdout + up.stderr).toBe(0);
    const after = (await run(['status', '--json'])).json();
    expect(after.state).toBe('up-to-date');
    expect(after.applied.map((m: { transactional: unknown }) => m.transactional)).toEqual([true, 'own', true]);
    const { rows } = await database.query(`select unnest(enum_range(null::"Role"))::text as v`);
    expect(rows.map((r: { v: string }) => r.v)).toEqual(['USER', 'ADMIN']);
  });
});

describe('a failure among many migrations', () => {
  let database: TestDatabase;
  let ws: Workspace;

  beforeEach(async () => {
    database = await createTestDatabase('cli_summary');
    const files: Record<string, string> = { '000_broken.sql': 'select 1 / 0;\n' };
    for (let i = 1; i <= 13; i++) files[`${String(i).padStart(3, '0')}_t.sql`] = `create table t${i} (id int);\n`;
    ws = await workspace(files);
  });
  afterEach(async () => {
    await database.drop();
    await ws.dispose();
  });

  it('lists the names not run one per line, and shortens a long list', async () => {
    const up = await mig(['up'], { cwd: ws.dir, env: { DATABASE_URL: database.url } });
    expect(up.code).toBe(1);
    expect(up.stdout).toContain(
      'Failed: nothing was applied.\n000_broken failed and was not applied.\nNot run (13):\n  001_t\n  002_t\n',
    );
    expect(up.stdout).toContain('  010_t\n  … and 3 more');
    expect(up.stdout).not.toContain('011_t');
  });
});
