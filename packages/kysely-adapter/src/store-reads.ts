import { MigError, MigErrorCode } from '@mig/core';
import { EMPTY_DIGEST, EMPTY_HEAD, nextDigest, type RecordRewrite, type StoreHead } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from './db.js';
import { parseRepairs, type RecordRow } from './store-engine.js';
import type { StoreTables } from './tables.js';

/**
 * What every engine does to mig's tables in the same SQL: the reads, and the records a repair rewrites.
 * Only how "the table does not exist" shows differs, and each engine says that in `isUndefinedTable`.
 */
export abstract class StoreReads {
  abstract readonly tables: StoreTables;

  /** The relation does not exist (mig's tables were never created). */
  abstract isUndefinedTable(error: unknown): boolean;

  /** The schema version of mig's tables, 0 for tables without one, null when they do not exist. */
  async schemaVersion(db: MigrationDb): Promise<number | null> {
    const row = await this.#orMissing(
      sql<{ schema_version: number | string }>`select schema_version from ${this.tables.head} where id = 1`.execute(db),
    );
    return row === null ? null : row.rows[0] ? Number(row.rows[0].schema_version) : 0;
  }

  /** The head (null when the tables do not exist). One round trip. */
  async readHead(db: MigrationDb): Promise<StoreHead | null> {
    const result = await this.#orMissing(
      sql<{ applied_count: number | string; digest: string }>`
        select applied_count, digest from ${this.tables.head} where id = 1`.execute(db),
    );
    if (result === null) return null;
    const row = result.rows[0];
    return row ? { count: Number(row.applied_count), digest: row.digest } : EMPTY_HEAD;
  }

  /** Every record in applied order (empty when the tables do not exist). */
  async readRecords(db: MigrationDb): Promise<readonly RecordRow[]> {
    // Every column: the tables of an older mig (before `prepare` brought them up to date) lack the newer ones.
    const result = await this.#orMissing(sql<RecordRow>`select * from ${this.tables.records} order by id`.execute(db));
    return result?.rows ?? [];
  }

  /** The latest `count` records, newest first. */
  async latest(db: MigrationDb, count: number): Promise<readonly { name: string; digest: string }[]> {
    const { rows } = await sql<{ name: string; digest: string }>`
      select name, digest from ${this.tables.records} order by id desc limit ${count}`.execute(db);
    return rows;
  }

  /**
   * A repair, inside the engine's transaction (head and fence already checked): the new checksums recorded
   * with the replaced ones kept in `repairs`, the forgotten records removed, and the digests rebuilt.
   * Returns the head the last record now leads to, for the engine to write.
   */
  protected async rewriteRecords(trx: MigrationDb, changes: RecordRewrite): Promise<StoreHead> {
    const now = new Date().toISOString();
    for (const { name, checksum } of changes.checksums) {
      const { rows } = await sql<{ checksum: string; repairs: string | null }>`
        select checksum, repairs from ${this.tables.records} where name = ${name}`.execute(trx);
      const row = rows[0];
      if (!row) throw new MigError(MigErrorCode.Conflict, `"${name}" has no record to repair; nothing was changed.`);
      const repairs = JSON.stringify([...parseRepairs(row.repairs), { checksum: row.checksum, at: now }]);
      await sql`
        update ${this.tables.records} set checksum = ${checksum}, repairs = ${repairs}
        where name = ${name}`.execute(trx);
    }
    for (const name of changes.forget) {
      await sql`delete from ${this.tables.records} where name = ${name}`.execute(trx);
    }
    return this.#rebuildDigests(trx);
  }

  /** Every record's digest again from the first, where it changed; the head the last one leads to. */
  async #rebuildDigests(trx: MigrationDb): Promise<StoreHead> {
    const { rows } = await sql<{ id: number | string; name: string; checksum: string; digest: string }>`
      select id, name, checksum, digest from ${this.tables.records} order by id`.execute(trx);
    let digest = EMPTY_DIGEST;
    for (const row of rows) {
      digest = nextDigest(digest, row.name, row.checksum);
      if (row.digest !== digest) {
        await sql`update ${this.tables.records} set digest = ${digest} where id = ${row.id}`.execute(trx);
      }
    }
    return { count: rows.length, digest };
  }

  async #orMissing<T>(query: Promise<T>): Promise<T | null> {
    try {
      return await query;
    } catch (error) {
      if (this.isUndefinedTable(error)) return null;
      throw error;
    }
  }
}
