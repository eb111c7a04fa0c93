import { describe, expect, it } from 'vitest';
import { Counter, countQueries, statementsIn } from '../src/counting.js';

describe('statementsIn', () => {
  it('counts top-level statements, not empty parts', () => {
    expect(statementsIn('select 1')).toBe(1);
    expect(statementsIn('begin; select 1; commit;')).toBe(3);
    expect(statementsIn(' ; ;\n')).toBe(0);
  });

  it('ignores semicolons in literals, quoted names, dollar-quoted bodies and comments', () => {
    expect(statementsIn("insert into t values ('a;b', 'it''s;')")).toBe(1);
    expect(statementsIn('select 1 as "x;y"; select 2')).toBe(2);
    expect(statementsIn('do $body$ begin perform 1; perform 2; end $body$; select $1')).toBe(2);
    expect(statementsIn('-- a; b\nselect 1 /* ; */')).toBe(1);
    expect(statementsIn('-- only a comment;\n')).toBe(0);
  });
});

describe('countQueries', () => {
  it('counts one round trip per call and the statements of its text', () => {
    const target = { query: (..._args: unknown[]) => 'sent' };
    const counter = countQueries(target, new Counter());
    expect(target.query('begin; select 1; commit')).toBe('sent');
    target.query({ text: 'select $1', values: [1] });
    expect(counter.roundTrips).toBe(2);
    expect(counter.statements).toBe(4);
  });
});
