import { queryStart, type TableLockBlocker } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';
import type { LockAttemptOptions } from '../../lock-attempts.js';
import type { EngineSettings, Step } from '../../store-engine.js';
import { MysqlErrno, mysqlErrno } from './errors.js';

// Short lock attempts on MySQL/MariaDB: an ALTER TABLE waiting for its metadata lock behind a long
// transaction holds every later query on the table behind it, as on PostgreSQL. MySQL counts
// lock_wait_timeout in whole seconds (its default is a year), so an attempt is at least one second.

/** The short-attempt options of a statement on MySQL: error 1205, and the open transactions of other sessions. */
export function mysqlAttempts(settings: EngineSettings, step: Step): LockAttemptOptions {
  const attemptMs =
    settings.ddlLockTimeoutMs > 0 ? Math.max(1_000, Math.ceil(settings.ddlLockTimeoutMs / 1000) * 1000) : 0;
  const connectionId = step.running.id;
  return {
    attemptMs,
    budgetMs: settings.lockWaitTimeoutMs,
    step,
    isLockTimeout: (error) => mysqlErrno(error) === MysqlErrno.LockWaitTimeout,
    lookup: () => mysqlBlockers(step.pool, connectionId),
    unit: 's',
  };
}

/** lock_wait_timeout for one attempt, in the seconds MySQL counts. */
export function attemptSeconds(lockTimeoutMs: number): number {
  return Math.max(1, Math.ceil(lockTimeoutMs / 1000));
}

interface TrxRow {
  id: number | string;
  user: string | null;
  host: string | null;
  command: string | null;
  state: string | null;
  trx_ms: number | string | null;
  query: string | null;
}

/**
 * The sessions with an open transaction, oldest first, but the step's own: a metadata lock is held by a
 * transaction, and the server's processlist with InnoDB's transactions says which (the metadata lock tables
 * are not on every server). One round trip, in this database's server.
 */
export async function mysqlBlockers(pool: MigrationDb, own: string | undefined): Promise<readonly TableLockBlocker[]> {
  const { rows } = await sql<TrxRow>`
    select p.id, p.user, p.host, p.command, p.state, p.info as query,
      timestampdiff(microsecond, t.trx_started, now(6)) / 1000 as trx_ms
    from information_schema.innodb_trx t
    join information_schema.processlist p on p.id = t.trx_mysql_thread_id
    where p.id <> connection_id() and p.id <> ${Number(own ?? 0)}
    order by t.trx_started
    limit 3`.execute(pool);
  return rows.map((r) => ({
    pid: Number(r.id),
    application: r.user ? `${r.user}@${String(r.host ?? '').replace(/:\d+$/, '')}` : undefined,
    state: r.command === 'Sleep' ? 'idle in transaction' : (r.state ?? r.command ?? undefined),
    transactionMs: r.trx_ms === null ? undefined : Number(r.trx_ms),
    query: queryStart(r.query),
  }));
}
