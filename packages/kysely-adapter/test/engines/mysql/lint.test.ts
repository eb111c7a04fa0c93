import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lintMysqlSql } from '../../../src/engines/mysql/lint.js';
import { createListSource, createMigrationLinter, LINTED_ENGINES } from '../../../src/index.js';
import { createTestMysqlDatabase, type TestMysqlDatabase } from '../../support/mysql.js';

/** The rule ids the linter finds in `text`, in order. */
function rules(text: string): string[] {
  return lintMysqlSql(text).map((f) => f.rule);
}

describe('MySQL/MariaDB lint rules', () => {
  it.each([
    ['alter table accounts add column age int not null default 0', ['algorithm-instant']],
    ['ALTER TABLE `shop`.`accounts` ADD COLUMN `note` TEXT AFTER `email`', ['algorithm-instant']],
    ['alter table accounts add (a int, b int)', ['algorithm-instant']],
    ['alter table accounts alter column status set default 1', ['algorithm-instant']],
    ['alter table accounts rename index a to b', ['algorithm-instant']],
    ['alter table accounts add column id2 int auto_increment unique', ['algorithm-inplace']],
    ['alter table accounts add column total int as (a + b) stored', ['algorithm-inplace']],
    ['alter table accounts add index accounts_email (email)', ['algorithm-inplace']],
    ['alter table accounts add unique key u (email), add fulltext key f (bio)', ['algorithm-inplace']],
    ['alter table accounts add column x int, add index ix (x)', ['algorithm-inplace']],
    ['alter table accounts modify email varchar(300) not null', ['algorithm-inplace']],
    ['alter table accounts convert to character set utf8mb4', ['algorithm-inplace']],
    ['alter table accounts engine = InnoDB', ['algorithm-inplace']],
    ['alter table accounts drop index accounts_email', ['algorithm-inplace']],
    ['alter table accounts add primary key (id)', ['algorithm-inplace']],
    ['create index accounts_email on accounts (email)', ['algorithm-inplace']],
    ['create unique index accounts_email using btree on accounts (email(20))', ['algorithm-inplace']],
    ['drop index accounts_email on accounts', ['algorithm-inplace']],
    ['alter table accounts drop column email', ['drop-column', 'algorithm-instant']],
    ['alter table accounts rename column email to mail', ['rename-column', 'algorithm-instant']],
    ['alter table accounts change email mail varchar(200)', ['rename-column', 'algorithm-inplace']],
    ['alter table accounts rename to users', ['rename-table']],
    ['rename table accounts to users', ['rename-table']],
    [
      'alter table accounts add constraint fk foreign key (owner) references users (id)',
      ['foreign-key-copy', 'algorithm-inplace'],
    ],
    ['alter table accounts add column x int, algorithm=copy', ['algorithm-copy']],
    ['alter table accounts add index i (x), algorithm=inplace, lock=shared', ['algorithm-copy']],
    ['create index i on accounts (x) lock = exclusive', ['algorithm-copy']],
    ['lock tables accounts write', ['lock-table']],
  ])('%s', (statement, expected) => {
    expect(rules(`${statement};`)).toEqual(expected);
  });

  it.each([
    'alter table accounts add column age int, algorithm=instant',
    'ALTER TABLE accounts ADD COLUMN age INT, ALGORITHM = INSTANT, LOCK = NONE',
    'alter table accounts add index i (x), algorithm=inplace, lock=none',
    'alter table accounts modify email varchar(300), algorithm=inplace',
    'alter online table accounts add index i (x)',
    'create index i on accounts (x) algorithm=inplace lock=none',
    'create index i on accounts (x) algorithm inplace',
    'drop index i on accounts algorithm=inplace',
    'alter table accounts drop foreign key fk, algorithm=inplace',
    "insert into accounts (email) values ('alter table x drop column y')",
    'update accounts set email = lower(email)',
    'select 1',
    'optimize table accounts',
  ])('%s: nothing', (statement) => {
    expect(rules(`${statement};`)).toEqual([]);
  });

  it('finds nothing in what is done to a table the same migration created', () => {
    const text = [
      'create table if not exists `tags` (id int primary key, name varchar(50))',
      'alter table tags add column color int',
      'alter table tags add index tags_name (name)',
      'create index tags_color on tags (color)',
      'alter table tags rename column color to colour',
      'alter table tags drop column colour',
      'rename table tags to labels',
      'alter table accounts add column tag int',
    ].join(';\n');
    expect(rules(`${text};`)).toEqual(['algorithm-instant']);
  });

  it('takes a foreign key added with foreign_key_checks off as one that can be built in place', () => {
    const off = 'SET foreign_key_checks = 0;\nalter table a add foreign key (b) references c (id), algorithm=inplace;';
    expect(rules(off)).toEqual([]);
    const backOn = `${off}\nset @@session.foreign_key_checks := 1;\nalter table a add foreign key (d) references c (id), algorithm=inplace;`;
    expect(rules(backOn)).toEqual(['foreign-key-copy']);
  });

  it('reads names, strings and comments as the server does, and a DELIMITER block as one statement', () => {
    const text = [
      '-- alter table accounts drop column email;',
      "/* drop column */ insert into log (m) values ('rename table a to b');",
      'alter table `we``ird` add column `drop` int, algorithm=instant;',
      '/*!50100 alter table accounts add index i (x) */;',
      'DELIMITER $$',
      'create trigger t before insert on accounts for each row begin set new.x = 1; end$$',
      'DELIMITER ;',
    ].join('\n');
    const findings = lintMysqlSql(text);
    expect(findings.map((f) => [f.rule, f.line])).toEqual([['algorithm-inplace', 4]]);
    expect(findings[0]?.statement).toContain('alter table accounts add index i (x)');
    expect(findings[0]?.fix).toContain('ALGORITHM=INPLACE, LOCK=NONE');
  });

  it('is the linter of mysql:// and mariadb:// URLs, for SQL and code migrations', async () => {
    expect(LINTED_ENGINES).toContain('mysql');
    const linter = createMigrationLinter({ url: 'mariadb://root@db:3306/shop' });
    expect(linter?.engine).toBe('mysql');
    const migrations = await createListSource([
      {
        name: '001_sql',
        sql: '-- mig:allow drop-column: unused since 2.3\nalter table a drop column b, algorithm=instant;',
      },
      {
        name: '002_code',
        up: async (db) => {
          await db.schema.alterTable('accounts').addColumn('age', 'integer').execute();
          await sql`create index accounts_age on accounts (age)`.execute(db);
        },
      },
    ]).load();
    const [sqlLint, codeLint] = await Promise.all(migrations.map((m) => linter?.lint(m)));
    expect(sqlLint?.findings.map((f) => [f.rule, f.accepted])).toEqual([['drop-column', 'unused since 2.3']]);
    expect(codeLint?.from).toBe('captured');
    expect(codeLint?.findings.map((f) => f.rule)).toEqual(['algorithm-instant', 'algorithm-inplace']);
  });
});

// The point of the rules, on the real server: with the algorithm named, a change InnoDB can only do by copying
// the table is refused, and one it can do in place goes through, exactly as the findings' fixes say.
describe('the fixes, on MariaDB', () => {
  let database: TestMysqlDatabase;
  beforeAll(async () => {
    database = await createTestMysqlDatabase('lint');
    await database.query('create table accounts (id int primary key, email varchar(100), n int) engine=InnoDB');
    await database.query("insert into accounts values (1, 'a@example.com', 1), (2, 'b@example.com', 2)");
  });
  afterAll(async () => {
    await database?.drop();
  });

  it('does what the fix asks for, or refuses instead of copying', async () => {
    for (const statement of [
      'alter table accounts add column age int, algorithm=instant',
      'alter table accounts add index accounts_email (email), algorithm=inplace, lock=none',
      'alter table accounts drop index accounts_email, algorithm=inplace, lock=none',
    ]) {
      expect(rules(`${statement};`)).toEqual([]);
      await database.query(statement);
    }
    // Changing a column's type needs a copy: asked for in place, the server says no, and the table is as it was.
    const typeChange = 'alter table accounts modify n varchar(20), algorithm=inplace, lock=none';
    expect(rules(`${typeChange};`)).toEqual([]);
    await expect(database.query(typeChange)).rejects.toThrow(/ALGORITHM=INPLACE is not supported/);
    // The same change without the clause is what the rule finds: the server would copy the table.
    expect(rules('alter table accounts modify n varchar(20);')).toEqual(['algorithm-inplace']);
    const columns = await database.query<{ COLUMN_NAME: string; DATA_TYPE: string }>(
      'select column_name as COLUMN_NAME, data_type as DATA_TYPE from information_schema.columns where table_schema = database() and table_name = ? order by ordinal_position',
      ['accounts'],
    );
    expect(columns.map((c) => `${c.COLUMN_NAME}:${c.DATA_TYPE}`)).toEqual([
      'id:int',
      'email:varchar',
      'n:int',
      'age:int',
    ]);
  });
});
