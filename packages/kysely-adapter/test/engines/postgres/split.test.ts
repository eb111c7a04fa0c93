import { describe, expect, it } from 'vitest';
import { splitPostgresStatements } from '../../../src/engines/postgres/split.js';

/** The statements' texts (their lines are asserted where they matter). */
const splitSqlStatements = (script: string) => splitPostgresStatements(script).map((s) => s.text);

describe('splitSqlStatements', () => {
  it('splits on statement-ending semicolons and drops empty statements', () => {
    expect(splitSqlStatements('create table a (id int);\n\n;  create index concurrently i on a (id);')).toEqual([
      'create table a (id int)',
      'create index concurrently i on a (id)',
    ]);
  });

  it('keeps semicolons inside strings, identifiers, dollar quotes and comments', () => {
    const script = [
      "insert into t values ('a;b', 'it''s; fine', E'back\\'slash;');",
      'create table "odd;name" (x int);',
      'create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql;',
      'do $$ begin perform 1; end $$;',
      '-- a comment; with a semicolon',
      '/* block; /* nested; */ still comment; */ select 1;',
    ].join('\n');
    expect(splitSqlStatements(script)).toEqual([
      "insert into t values ('a;b', 'it''s; fine', E'back\\'slash;')",
      'create table "odd;name" (x int)',
      'create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql',
      'do $$ begin perform 1; end $$',
      '-- a comment; with a semicolon\n/* block; /* nested; */ still comment; */ select 1',
    ]);
  });

  it('does not take positional parameters or identifiers with $ for dollar quotes', () => {
    expect(splitSqlStatements('select a$b, $1 from t; select 2')).toEqual(['select a$b, $1 from t', 'select 2']);
  });

  it('returns nothing for a script of comments and whitespace', () => {
    expect(splitSqlStatements('-- only a comment\n/* and another */\n\n')).toEqual([]);
  });
});
