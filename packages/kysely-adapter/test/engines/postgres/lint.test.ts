import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { lintPostgresSql } from '../../../src/engines/postgres/lint.js';
import { acceptedRules, createListSource, createMigrationLinter, unaccepted } from '../../../src/index.js';

/** The rule ids the linter finds in `text`, in order. */
async function rules(text: string): Promise<string[]> {
  return (await lintPostgresSql(text)).map((f) => f.rule);
}

describe('PostgreSQL lint rules', () => {
  it.each([
    ['create index accounts_email on accounts (email)', 'index-not-concurrent'],
    ['create unique index if not exists a_b on public.accounts using btree (lower(email))', 'index-not-concurrent'],
    ['drop index accounts_email', 'index-not-concurrent'],
    ['alter table accounts add column age int not null', 'add-column-not-null-without-default'],
    ['alter table accounts add column token uuid default gen_random_uuid()', 'volatile-default'],
    ['alter table accounts add column r float8 default random()', 'volatile-default'],
    ['alter table accounts add column seen timestamptz default clock_timestamp()', 'volatile-default'],
    ['alter table accounts add column n int default (select max(id) from other)', 'volatile-default'],
    ['alter table accounts add column id2 bigserial', 'volatile-default'],
    ['alter table accounts add column v int default my_func()', 'volatile-default'],
    ['alter table accounts alter column id type bigint', 'alter-column-type'],
    ['alter table accounts alter column email type varchar(100)', 'alter-column-type'],
    ['alter table accounts alter column n type text using n::text', 'alter-column-type'],
    ['alter table accounts add constraint fk foreign key (owner) references users (id)', 'constraint-not-valid'],
    ['alter table accounts add constraint positive check (n > 0)', 'constraint-not-valid'],
    ['alter table accounts alter column email set not null', 'set-not-null'],
    ['alter table accounts add constraint u unique (email)', 'unique-under-lock'],
    ['alter table accounts add primary key (id)', 'unique-under-lock'],
    ['alter table accounts add column code text unique', 'unique-under-lock'],
    ['alter table accounts rename column email to mail', 'rename-column'],
    ['alter table accounts rename to users', 'rename-table'],
    ['alter table accounts drop column email', 'drop-column'],
    ['vacuum (full, analyze) accounts', 'vacuum-full'],
    ['cluster accounts using accounts_pkey', 'cluster'],
    ['lock table accounts in share mode', 'lock-table'],
    ['alter tabel accounts add column x int', 'unparsable'],
  ])('%s: %s', async (statement, rule) => {
    expect(await rules(`${statement};`)).toEqual([rule]);
  });

  it.each([
    'create index concurrently accounts_email on accounts (email)',
    'drop index concurrently accounts_email',
    'alter table accounts add column created timestamptz default now()',
    'alter table accounts add column created timestamptz not null default current_timestamp',
    "alter table accounts add column status text not null default 'active'",
    'alter table accounts add column n int default 0',
    "alter table accounts add column meta jsonb default '{}'::jsonb",
    'alter table accounts add column note text',
    'alter table accounts alter column email type text',
    'alter table accounts alter column email type varchar',
    'alter table accounts add constraint fk foreign key (owner) references users (id) not valid',
    'alter table accounts add constraint positive check (n > 0) not valid',
    'alter table accounts validate constraint positive',
    'alter table accounts add constraint u unique using index accounts_email_key',
    'alter table accounts add constraint pk primary key using index accounts_id_key',
    'vacuum accounts',
    'select 1',
    "update accounts set note = 'x' where id < 1000",
  ])('no finding: %s', async (statement) => {
    expect(await rules(`${statement};`)).toEqual([]);
  });

  it('finds nothing in what is done to a table the same migration created', async () => {
    const text = [
      'create table accounts (id int, email text);',
      'create index accounts_email on accounts (email);',
      'alter table accounts add column age int not null;',
      'alter table accounts add column token uuid default gen_random_uuid();',
      'alter table accounts alter column id type bigint;',
      'alter table accounts add constraint u unique (email);',
      'alter table accounts alter column email set not null;',
      'alter table accounts rename column email to mail;',
      'lock table accounts;',
      'drop index accounts_email;',
      'create table copy as select * from accounts;',
      'alter table copy drop column age;',
    ].join('\n');
    expect(await rules(text)).toEqual([]);
  });

  it('accepts SET NOT NULL behind a CHECK validated in the same migration', async () => {
    const text =
      'alter table accounts validate constraint email_not_null;\nalter table accounts alter column email set not null;';
    expect(await rules(text)).toEqual([]);
  });

  it('says on which line each finding is, and which statement', async () => {
    const text =
      '-- add the age\nalter table accounts add column note text;\n\n/* index */\ncreate index a_n on accounts (note);\n';
    const [finding] = await lintPostgresSql(text);
    expect(finding).toMatchObject({
      rule: 'index-not-concurrent',
      line: 5,
      statement: 'create index a_n on accounts (note)',
    });
    expect(finding?.reason).toMatch(/blocks every write/);
    expect(finding?.fix).toMatch(/CONCURRENTLY/);
  });
});

describe('accepting a finding', () => {
  it('reads -- mig:allow <rule>: <why>, and ignores a directive without a reason', () => {
    const accepted = acceptedRules(
      '-- mig:allow drop-column: nothing reads it since 2.3\n--mig:allow rename-table\nselect 1; -- mig:allow LOCK-TABLE: tiny table\n',
    );
    expect([...accepted.entries()]).toEqual([
      ['drop-column', 'nothing reads it since 2.3'],
      ['lock-table', 'tiny table'],
    ]);
  });

  it('lints SQL and code migrations, code through the SQL its dry run captures, and keeps accepted findings apart', async () => {
    const linter = createMigrationLinter();
    if (linter === undefined) throw new Error('PostgreSQL has lint rules');
    const migrations = await createListSource([
      {
        name: '001_drop',
        sql: '-- mig:allow drop-column: unused since 2.3\nalter table accounts drop column email;\n',
      },
      {
        name: '002_code',
        up: async (db) => {
          await db.schema.createIndex('accounts_age').on('accounts').column('age').execute();
          await sql`alter table accounts rename column age to years`.execute(db);
        },
      },
    ]).load();
    const [sqlLint, codeLint] = await Promise.all(migrations.map((m) => linter.lint(m)));
    expect(sqlLint?.from).toBe('sql');
    expect(sqlLint?.findings.map((f) => [f.rule, f.accepted])).toEqual([['drop-column', 'unused since 2.3']]);
    expect(unaccepted(sqlLint as NonNullable<typeof sqlLint>)).toEqual([]);
    expect(codeLint?.from).toBe('captured');
    expect(codeLint?.findings.map((f) => f.rule)).toEqual(['index-not-concurrent', 'rename-column']);
  });

  it('has no rules for SQLite', () => {
    expect(createMigrationLinter({ url: 'sqlite:./app.db' })).toBeUndefined();
  });
});
