import { LockLostError } from '@mig/core';
import { type Kysely, sql } from 'kysely';
import type { StoreTables } from './tables.js';

/** Proof that a session advisory lock is held: the lock's two keys and the backend holding it. */
export interface AdvisoryFence {
  readonly kind: 'advisory';
  readonly classId: number;
  readonly objId: number;
  readonly pid: number;
  readonly key: string;
}

/** Proof that a lease is held: the lock row's key and the token granted with it. */
export interface LeaseFence {
  readonly kind: 'lease';
  readonly key: string;
  readonly token: string;
}

export type Fence = AdvisoryFence | LeaseFence;

function isFence(value: unknown): value is Fence {
  const kind = (value as { kind?: unknown } | null)?.kind;
  return kind === 'advisory' || kind === 'lease';
}

/**
 * Checks, inside the migration's transaction, that this process still holds the lock. For a lease the row
 * is locked FOR SHARE, so nobody can take the lease over until this transaction ends.
 */
// biome-ignore lint/suspicious/noExplicitAny: runs on any schema.
export async function checkFence(db: Kysely<any>, tables: StoreTables, fence: unknown): Promise<void> {
  if (!isFence(fence)) return;
  if (fence.kind === 'advisory') {
    const { rows } = await sql<{ held: boolean }>`
      select exists (
        select 1 from pg_catalog.pg_locks
        where locktype = 'advisory' and classid = ${fence.classId}::oid and objid = ${fence.objId}::oid
          and objsubid = 2 and pid = ${fence.pid} and granted
      ) as held`.execute(db);
    if (!rows[0]?.held) {
      throw new LockLostError(
        fence.key,
        `the session holding it (backend pid ${fence.pid}) no longer holds it; its connection was probably terminated`,
      );
    }
    return;
  }
  const { rows } = await sql<{ token: string }>`
    select token::text as token from ${tables.lock}
    where key = ${fence.key} and token = ${fence.token}::bigint and expires_at > now()
    for share`.execute(db);
  if (rows.length === 0) {
    throw new LockLostError(fence.key, `lease token ${fence.token} expired or was taken over by another instance`);
  }
}
