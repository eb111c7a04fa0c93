import { afterEach, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../../../test/support/postgres.js';
import { mig, type Workspace, workspace } from './support.js';

describe('mig lint', () => {
  let ws: Workspace;
  afterEach(async () => {
    await ws.dispose();
  });

  it('needs no database, names each finding with its fix, and exits 6 until every finding is fixed or accepted', async () => {
    ws = await workspace({
      '001_accounts.sql':
        'create table accounts (id int primary key, email text);\ncreate index a_email on accounts (email);\n',
      '002_index.sql': 'create index a_email2 on accounts (email);\n',
      '003_age.ts':
        "export async function up(db) {\n  await db.schema.alterTable('accounts').dropColumn('email').execute();\n}\n",
    });
    const found = await mig(['lint'], { cwd: ws.dir });
    expect(found.code).toBe(6);
    expect(found.stdout).toContain('002_index:1 index-not-concurrent:');
    expect(found.stdout).toContain('Fix: use CREATE INDEX CONCURRENTLY');
    expect(found.stdout).toContain('003_age:1 drop-column:');
    expect(found.stdout).not.toContain('001_accounts');

    const json = await mig(['lint', '--json'], { cwd: ws.dir });
    expect(json.code).toBe(6);
    const document = JSON.parse(json.stdout);
    expect(document).toMatchObject({ ok: false, exitCode: 6, engine: 'postgres', migrations: 3, unaccepted: 2 });
    expect(document.findings.map((m: { name: string; from: string }) => [m.name, m.from])).toEqual([
      ['002_index', 'sql'],
      ['003_age', 'captured'],
    ]);

    await ws.write(
      '002_index.sql',
      '-- mig:allow index-not-concurrent: the table is tiny\ncreate index a_email2 on accounts (email);\n',
    );
    await ws.write(
      '003_age.ts',
      "// mig:allow drop-column: nothing reads it since 2.3\nexport async function up(db) {\n  await db.schema.alterTable('accounts').dropColumn('email').execute();\n}\n",
    );
    const clean = await mig(['lint'], { cwd: ws.dir });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('3 migration(s) checked: nothing left to fix (2 accepted)');
  });

  it('mig up, run by a person, warns of findings and applies the migration', async () => {
    ws = await workspace({ '001_accounts.sql': 'create table accounts (id int primary key, email text);\n' });
    const database = await createTestDatabase('cli_lint');
    try {
      const env = { DATABASE_URL: database.url, NODE_ENV: 'production' };
      expect((await mig(['up'], { cwd: ws.dir, env })).code).toBe(0);
      await ws.write('002_index.sql', 'create index a_email on accounts (email);\n');
      const up = await mig(['up'], { cwd: ws.dir, env });
      expect(up.code).toBe(0);
      expect(up.stderr).toContain('002_index:1 index-not-concurrent');
      const { rows } = await database.query('select name from mig_migrations order by id');
      expect(rows.map((r) => r.name)).toEqual(['001_accounts', '002_index']);
    } finally {
      await database.drop();
    }
  });
});
