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

  it('reads a MySQL or MariaDB URL as the engine to lint for, and asks for the algorithm by name', async () => {
    ws = await workspace({
      '001_accounts.sql':
        'create table accounts (id int primary key, email varchar(100));\nalter table accounts add index a_email (email);\n',
      '002_age.sql': 'alter table accounts add column age int;\n',
      '003_index.sql': 'alter table accounts add index a_age (age), algorithm=inplace, lock=none;\n',
    });
    const env = { DATABASE_URL: 'mariadb://root@db.invalid:3306/shop' };
    const found = await mig(['lint', '--json'], { cwd: ws.dir, env });
    expect(found.code).toBe(6);
    const document = JSON.parse(found.stdout);
    expect(document).toMatchObject({ engine: 'mysql', migrations: 3, unaccepted: 1 });
    expect(document.findings).toEqual([
      expect.objectContaining({
        name: '002_age',
        findings: [expect.objectContaining({ rule: 'algorithm-instant', line: 1 })],
      }),
    ]);
    const text = await mig(['lint'], { cwd: ws.dir, env });
    expect(text.stdout).toContain('002_age:1 algorithm-instant:');
    expect(text.stdout).toContain('Fix: add ALGORITHM=INSTANT');
  });

  it('says which engines it has rules for when the URL names one without', async () => {
    ws = await workspace({ '001_accounts.sql': 'create table accounts (id int primary key);\n' });
    const result = await mig(['lint'], { cwd: ws.dir, env: { DATABASE_URL: 'sqlite:./app.db' } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/mig lint has rules for [a-z, ]*\bmysql\b/);
  });
});
