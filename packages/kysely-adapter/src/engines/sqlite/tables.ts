import { EMPTY_DIGEST } from '@mig/core/adapter';
import { type RawBuilder, sql } from 'kysely';
import { STORE_SCHEMA_VERSION } from '../../store-engine.js';
import type { StoreTables } from '../../tables.js';

// mig's tables in SQLite's SQL, for every engine that speaks it (a file, libSQL, D1): times as ISO 8601 text
// with milliseconds (such strings sort as the instants they name), booleans as 0/1.

/** The statements that create mig's tables (if they do not exist) and write the head row, in order. */
export interface SqliteTableStatements {
  readonly records: RawBuilder<unknown>;
  readonly head: RawBuilder<unknown>;
  readonly lock: RawBuilder<unknown>;
  /** The head row at version {@link STORE_SCHEMA_VERSION}, or an older one's version raised. */
  readonly headRow: RawBuilder<unknown>;
}

export function sqliteTableStatements(t: StoreTables): SqliteTableStatements {
  return {
    records: sql`
      create table if not exists ${t.records} (
        id integer primary key autoincrement,
        name text not null unique,
        checksum text not null,
        digest text not null,
        transactional integer not null default 1,
        applied_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
        duration_ms integer,
        origin text not null default 'applied',
        adopted_from text,
        runnable integer not null default 1,
        repairs text not null default '[]'
      )`,
    head: sql`
      create table if not exists ${t.head} (
        id integer primary key check (id = 1),
        applied_count integer not null,
        digest text not null,
        schema_version integer not null,
        updated_at text not null default (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
      )`,
    lock: sql`
      create table if not exists ${t.lock} (
        key text primary key,
        owner text,
        token integer not null,
        acquired_at text,
        expires_at text not null
      )`,
    headRow: sql`
      insert into ${t.head} (id, applied_count, digest, schema_version)
      values (1, 0, ${EMPTY_DIGEST}, ${STORE_SCHEMA_VERSION})
      on conflict (id) do update set schema_version = excluded.schema_version
      where ${t.head}.schema_version < excluded.schema_version`,
  };
}
