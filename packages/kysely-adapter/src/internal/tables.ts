import { MigError, MigErrorCode } from '@mig/core';
import { type RawBuilder, sql } from 'kysely';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** mig's tables, quoted and schema-qualified. */
export interface StoreTables {
  readonly schema: string;
  readonly table: string;
  /** "schema.table", for messages and lock keys. */
  readonly qualified: string;
  readonly records: RawBuilder<unknown>;
  readonly head: RawBuilder<unknown>;
  readonly lock: RawBuilder<unknown>;
}

export function storeTables(schema: string, table: string): StoreTables {
  for (const [option, value] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    // The lock and head tables add up to 5 characters to the name.
    if (typeof value !== 'string' || !IDENTIFIER.test(value) || (option === 'table' && value.length > 58)) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `Invalid ${option} name ${JSON.stringify(value)}: use letters, digits and underscores, starting with a letter or underscore, at most ${option === 'table' ? 58 : 63} characters.`,
        { context: { option } },
      );
    }
  }
  return {
    schema,
    table,
    qualified: `${schema}.${table}`,
    records: sql.id(schema, table),
    head: sql.id(schema, `${table}_head`),
    lock: sql.id(schema, `${table}_lock`),
  };
}
