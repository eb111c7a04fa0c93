import { MigrationConflictError } from '@mig/core';
import { EMPTY_DIGEST, EMPTY_HEAD, type StoreHead } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import { notLatest, type RecordRow, STORE_SCHEMA_VERSION, type Step } from '../../store-engine.js';
import type { StoreTables } from '../../tables.js';
import { utcText } from './fence.js';

// mig's tables on MySQL/MariaDB: InnoDB (row locks, transactions), utf8mb4 with a binary collation so that
// migration names compare exactly as they are spelled. Times are UTC_TIMESTAMP in DATETIME(6) columns, read
// back as ISO strings: neither the session's time zone nor the driver's changes them.
const TABLE_OPTIONS = sql.raw('engine=InnoDB default charset=utf8mb4 collate=utf8mb4_bin');

/** Creates mig's tables and the head row, statement by statement (each DDL commits by itself anyway). */
export async function createMysqlTables(db: MigrationDb, tables: StoreTables): Promise<void> {
  await sql`
    create table if not exists ${tables.records} (
      id bigint not null auto_increment primary key,
      name varchar(255) not null unique,
      checksum varchar(255) not null,
      digest varchar(255) not null,
      transactional boolean not null default true,
      applied_at datetime(6) not null,
      duration_ms integer null,
      origin varchar(32) not null default 'applied',
      adopted_from varchar(255) null,
      runnable boolean not null default true,
      repairs text not null
    ) ${TABLE_OPTIONS}`.execute(db);
  await sql`
    create table if not exists ${tables.head} (
      id integer not null primary key,
      applied_count integer not null,
      digest varchar(255) not null,
      schema_version integer not null,
      updated_at datetime(6) not null,
      check (id = 1)
    ) ${TABLE_OPTIONS}`.execute(db);
  await sql`
    create table if not exists ${tables.lock} (
      ${sql.ref('key')} varchar(255) not null primary key,
      owner varchar(512) null,
      token bigint not null,
      acquired_at datetime(6) null,
      expires_at datetime(6) not null
    ) ${TABLE_OPTIONS}`.execute(db);
  await sql`
    insert into ${tables.head} (id, applied_count, digest, schema_version, updated_at)
    values (1, 0, ${EMPTY_DIGEST}, ${STORE_SCHEMA_VERSION}, utc_timestamp(6))
    on duplicate key update schema_version = greatest(schema_version, ${STORE_SCHEMA_VERSION})`.execute(db);
}

/** The head row read as it is now (a locking read sees the latest committed head), or the empty head. */
function toHead(row: { applied_count: number | string; digest: string } | undefined): StoreHead {
  return row ? { count: Number(row.applied_count), digest: row.digest } : EMPTY_HEAD;
}

/**
 * Locks the head row for the current transaction and checks it is where the caller expects it: the
 * compare-and-swap every change of the history goes through. A second writer waits here for the first to
 * commit, then finds the head moved.
 */
export async function lockMysqlHead(
  db: MigrationDb,
  tables: StoreTables,
  name: string,
  expected: StoreHead,
): Promise<StoreHead & { readonly connectionId: string }> {
  // The connection's id in the same statement: a stop of the migration ends this connection (KILL).
  const { rows } = await sql<{ applied_count: number | string; digest: string; connection_id: number | string }>`
    select applied_count, digest, connection_id() as connection_id from ${tables.head} where id = 1 for update`.execute(
    db,
  );
  const head = toHead(rows[0]);
  if (head.count !== expected.count || head.digest !== expected.digest) {
    throw new MigrationConflictError(name, expected, head);
  }
  return { ...head, connectionId: String(rows[0]?.connection_id ?? '') };
}

/** For a revert: refuses unless `name` is the latest applied migration. */
export async function checkLatest(db: MigrationDb, tables: StoreTables, name: string): Promise<void> {
  const { rows } = await sql<{ name: string }>`
    select name from ${tables.records} order by id desc limit 1`.execute(db);
  if (rows[0]?.name !== name) throw notLatest(name, rows[0]?.name ?? null);
}

/** The record written (up) or removed (down), and the head moved to `step.next`. */
export async function writeMysqlRecord(
  db: MigrationDb,
  tables: StoreTables,
  step: Step,
  durationMs: number,
): Promise<void> {
  const { migration } = step;
  if (step.direction === 'up') {
    await sql`
      insert into ${tables.records}
        (name, checksum, digest, transactional, applied_at, duration_ms, origin, adopted_from, runnable, repairs)
      values (${migration.name}, ${migration.checksum}, ${step.next.digest}, ${step.transactional},
        utc_timestamp(6), ${Math.round(durationMs)}, 'applied', null, true, '[]')`.execute(db);
  } else {
    await sql`delete from ${tables.records} where name = ${migration.name}`.execute(db);
  }
  await writeMysqlHead(db, tables, step.next);
}

export async function writeMysqlHead(db: MigrationDb, tables: StoreTables, head: StoreHead): Promise<void> {
  await sql`
    update ${tables.head} set applied_count = ${head.count}, digest = ${head.digest}, updated_at = utc_timestamp(6)
    where id = 1`.execute(db);
}

/** Every record in applied order, its time as an ISO string in UTC. */
export async function readMysqlRecords(db: MigrationDb, tables: StoreTables): Promise<RecordRow[]> {
  const { rows } = await sql<RecordRow>`
    select name, checksum, digest, transactional, ${utcText('applied_at')} as applied_at, duration_ms, origin,
      adopted_from, runnable, repairs
    from ${tables.records} order by id`.execute(db);
  return rows;
}
