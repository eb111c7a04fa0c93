import { describe, expect, it } from 'vitest';
import { firstLine, lineOf, splitStandardSql } from '../../src/sql/statement.js';

describe('splitStandardSql (a source that was not told its engine)', () => {
  it('splits on semicolons outside quotes, dollar quotes and comments, with the line each statement starts on', () => {
    const script = [
      "insert into t values ('a;b', 'it''s; fine');",
      'create table "odd;name" (x int); create table `back;tick` (y int);',
      'do $$ begin perform 1; end $$;',
      'create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql;',
      '-- a comment; with a semicolon',
      '/* block; /* nested; */ still comment; */ select 1;',
    ].join('\n');
    expect(splitStandardSql(script)).toEqual([
      { text: "insert into t values ('a;b', 'it''s; fine')", line: 1 },
      { text: 'create table "odd;name" (x int)', line: 2 },
      { text: 'create table `back;tick` (y int)', line: 2 },
      { text: 'do $$ begin perform 1; end $$', line: 3 },
      { text: 'create function f() returns int as $body$ begin return 1; end; $body$ language plpgsql', line: 4 },
      { text: 'select 1', line: 6 },
    ]);
  });

  it('finds nothing in a script of comments and blanks', () => {
    expect(splitStandardSql('  -- only a comment\n/* and another */ ;\n\n')).toEqual([]);
  });

  it('takes a dollar sign inside a name or a parameter for what it is', () => {
    expect(splitStandardSql('select a$b from t; select $1;').map((s) => s.text)).toEqual([
      'select a$b from t',
      'select $1',
    ]);
  });
});

describe('lineOf and firstLine', () => {
  it('count lines from 1 and shorten a long first line', () => {
    expect(lineOf('a\nb\nc', 4)).toBe(3);
    expect(firstLine('\n\n  create table x (\n id int)')).toBe('create table x (');
    expect(firstLine(`select ${'x'.repeat(100)}`, 20)).toBe(`select ${'x'.repeat(12)}…`);
  });
});
