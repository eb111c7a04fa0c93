import { describe, expect, it } from 'vitest';
import { splitSqliteStatements as splitWithLines } from '../../../src/engines/sqlite/split.js';

const splitSqliteStatements = (script: string) => splitWithLines(script).map((s) => s.text);

describe('splitSqliteStatements', () => {
  it('splits at semicolons outside quotes, comments and trigger bodies, and drops empty pieces', () => {
    const script = `-- a comment; not a statement
create table a (v text default 'x;y', "odd;name" int, [b;c] int, \`d;e\` int);
/* block; comment */
insert into a (v) values ('it''s; fine');
create temp trigger t after insert on a begin
  update a set v = 'z;' where rowid = new.rowid;
  select case when new.v is null then 1 else 0 end;
end;
;;
select 1`;
    expect(splitSqliteStatements(script)).toEqual([
      `-- a comment; not a statement
create table a (v text default 'x;y', "odd;name" int, [b;c] int, \`d;e\` int);`,
      `/* block; comment */
insert into a (v) values ('it''s; fine');`,
      `create temp trigger t after insert on a begin
  update a set v = 'z;' where rowid = new.rowid;
  select case when new.v is null then 1 else 0 end;
end;`,
      'select 1',
    ]);
    expect(splitSqliteStatements('  -- only a comment\n/* and another */ ;\n')).toEqual([]);
  });
});
