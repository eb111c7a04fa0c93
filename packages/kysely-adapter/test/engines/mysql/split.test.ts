import { describe, expect, it } from 'vitest';
import { isDataStatement, splitMysqlStatements } from '../../../src/engines/mysql/split.js';

const texts = (script: string) => splitMysqlStatements(script).map((s) => s.text);

describe('splitMysqlStatements', () => {
  it('splits on semicolons outside quotes, backticks and comments', () => {
    const script = [
      "insert into t values ('a;b', \"c;d\", 'it''s;', 'back\\';slash');",
      'create table `we;ird` (id int); -- a comment; with a semicolon',
      '# another; comment',
      '/* block; comment */ select 1;',
      'select 2',
    ].join('\n');
    expect(texts(script)).toEqual([
      "insert into t values ('a;b', \"c;d\", 'it''s;', 'back\\';slash')",
      'create table `we;ird` (id int)',
      'select 1',
      'select 2',
    ]);
  });

  it('keeps "--" without a blank after it as an operator, not a comment', () => {
    expect(texts('select 1--1; select 2;')).toEqual(['select 1--1', 'select 2']);
  });

  it('follows DELIMITER lines, so procedure bodies keep their semicolons', () => {
    const script = [
      'create table t (id int);',
      'DELIMITER $$',
      'create procedure p() begin insert into t values (1); insert into t values (2); end$$',
      'DELIMITER ;',
      'call p();',
    ].join('\n');
    expect(texts(script)).toEqual([
      'create table t (id int)',
      'create procedure p() begin insert into t values (1); insert into t values (2); end',
      'call p()',
    ]);
  });

  it('gives the line each statement starts on, and skips blank or comment-only parts', () => {
    const statements = splitMysqlStatements(
      '-- header\n\ncreate table a (id int);\n;\n\ninsert into a values (1);\n-- end\n',
    );
    expect(statements).toEqual([
      { text: 'create table a (id int)', line: 3 },
      { text: 'insert into a values (1)', line: 6 },
    ]);
  });
});

describe('isDataStatement', () => {
  it('tells data statements from DDL and transaction control', () => {
    for (const data of [
      'insert into t values (1)',
      '-- note\nUPDATE t set a = 1',
      'delete from t',
      'replace into t values (1)',
      'select sleep(1)',
      'with x as (select 1) select * from x',
      'set @a = 1',
    ]) {
      expect(isDataStatement(data), data).toBe(true);
    }
    for (const other of [
      'create table t (id int)',
      'alter table t add column b int',
      'drop table t',
      'truncate table t',
      'rename table a to b',
      'start transaction',
      'commit',
      'lock tables t write',
      'call p()',
      'set autocommit = 1',
      '/*!40101 SET NAMES utf8 */',
      'create index i on t (a)',
    ]) {
      expect(isDataStatement(other), other).toBe(false);
    }
  });
});
