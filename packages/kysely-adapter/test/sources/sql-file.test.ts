import { describe, expect, it } from 'vitest';
import { parseSqlMigration } from '../../src/sources/sql-file.js';

describe('parseSqlMigration', () => {
  it('reads the no-transaction directive from the first non-blank line only', () => {
    expect(parseSqlMigration('\n-- mig:no-transaction\ncreate index concurrently i on t (x);').transactional).toBe(
      false,
    );
    expect(parseSqlMigration('select 1;\n-- mig:no-transaction').transactional).toBe(true);
  });

  it('splits the up and down parts on a "-- mig:down" line', () => {
    const parsed = parseSqlMigration('create table t (x int);\n-- mig:down\ndrop table t;\n');
    expect(parsed.up).toBe('create table t (x int);\n');
    expect(parsed.down).toBe('\ndrop table t;\n');
    expect(parseSqlMigration('create table t (x int);').down).toBeUndefined();
  });
});
