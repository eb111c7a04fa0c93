import { InvalidOptionError } from '@mig/core';
import { type RawBuilder, sql } from 'kysely';

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;
/** A schema may also hold hyphens (a tenant's, "acme-eu"): every statement quotes it. */
const SCHEMA = /^[A-Za-z_][A-Za-z0-9_-]{0,62}$/;

/** mig's tables, quoted and schema-qualified (where the engine has schemas, or the user named one). */
export interface StoreTables {
  /** The schema (PostgreSQL), or the database (MySQL); undefined for the connection's own (MySQL, SQLite). */
  readonly schema: string | undefined;
  readonly table: string;
  /** "schema.table" (or "table"), for messages and lock keys. */
  readonly qualified: string;
  readonly records: RawBuilder<unknown>;
  readonly head: RawBuilder<unknown>;
  readonly lock: RawBuilder<unknown>;
}

export function storeTables(schema: string | undefined, table: string): StoreTables {
  for (const [option, value] of [
    ['schema', schema],
    ['table', table],
  ] as const) {
    if (option === 'schema' && value === undefined) continue;
    // The lock and head tables add up to 5 characters to the name.
    const pattern = option === 'schema' ? SCHEMA : IDENTIFIER;
    if (typeof value !== 'string' || !pattern.test(value) || (option === 'table' && value.length > 58)) {
      throw new InvalidOptionError(
        option,
        `Invalid ${option} name ${JSON.stringify(value)}: use letters, digits and underscores${option === 'schema' ? ' (and hyphens)' : ''}, starting with a letter or underscore, at most ${option === 'table' ? 58 : 63} characters.`,
      );
    }
  }
  const id = (name: string) => (schema === undefined ? sql.id(name) : sql.id(schema, name));
  return {
    schema,
    table,
    qualified: schema === undefined ? table : `${schema}.${table}`,
    records: id(table),
    head: id(`${table}_head`),
    lock: id(`${table}_lock`),
  };
}
