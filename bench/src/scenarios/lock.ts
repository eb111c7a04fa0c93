import { LOCK_STRATEGIES, type LockStrategy, type MigrationLock } from '@mig/core';
import { DEFAULT_BACKOFF } from '@mig/core/adapter';
import { createKyselyAdapter, createKyselyStore, describeConnection, type KyselyFence } from '@mig/kysely-adapter';
import { type CountedPool, countedPool, createDatabase } from '../db.js';
import { formatDuration, formatStatements } from '../format.js';
import { interleave, timeEach } from '../measure.js';
import { summarize } from '../stats.js';
import type { Row, ScenarioResult, TargetCheck } from '../types.js';
import type { BenchContext } from './context.js';

/** The poll backoff's defaults: a waiter sleeps at most `maxDelayMs` between two attempts. */
const { initialDelayMs, factor, jitter, maxDelayMs: MAX_DELAY_MS } = DEFAULT_BACKOFF;

/**
 * An instance's lock: its own pool and its own adapter, as in a separate process. The adapter wraps every
 * lock in a process-wide mutex keyed by the target, so two "instances" in this process get different
 * target names; the lock itself (advisory key, lease row) depends only on the table, so they contend in
 * the database exactly as two processes would.
 */
function instanceLock(
  conn: CountedPool,
  url: string,
  instance: string,
  strategy: LockStrategy,
): MigrationLock<KyselyFence> {
  const target = describeConnection(url);
  const adapter = createKyselyAdapter({ db: conn.db, target: { ...target, server: `${target.server}#${instance}` } });
  return adapter.createLock({ strategy });
}

/**
 * Scenario 7: the migration lock. (a) Uncontended acquire + release, per strategy. (b) Handoff: a waiter
 * polls while another instance holds the lock for a random 0.3–1.3 s; measured from the holder's
 * `release()` returning to the waiter's `acquire()` resolving. Also the same handoff between two callers in
 * one process, which queue on the in-process mutex instead of polling.
 */
export async function lockScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  const { rounds, callsPerRound, handoffs } = ctx.settings.lock;
  const database = await createDatabase('lock');
  const holderConn = countedPool(database.url, 3);
  const waiterConn = countedPool(database.url, 3);
  try {
    await createKyselyStore({ db: holderConn.db }).prepare();
    await Promise.all([holderConn.warm(2), waiterConn.warm(2)]);
    const uncontended = await interleave(
      LOCK_STRATEGIES.map((strategy) => {
        const lock = instanceLock(holderConn, database.url, 'a', strategy);
        return {
          label: `${strategy}: acquire + release, uncontended`,
          tool: 'mig' as const,
          statements: () => holderConn.counter.count,
          roundTrips: () => holderConn.counter.roundTrips,
          round: () =>
            timeEach(callsPerRound, async () => {
              const lease = await lock.acquire({ timeoutMs: 5_000 });
              await lease.release();
            }),
        };
      }),
      { rounds, warmup: 3 },
    );

    const handoffRows: Row[] = [];
    for (const strategy of LOCK_STRATEGIES) {
      const holder = instanceLock(holderConn, database.url, 'holder', strategy);
      const waiter = instanceLock(waiterConn, database.url, 'waiter', strategy);
      const crossInstance = await measureHandoffs(holder, waiter, handoffs, [300, 1_300]);
      // Same lock object twice: the second caller queues on the process mutex and never polls, so how long
      // the lock was held does not matter.
      const sameProcess = await measureHandoffs(holder, holder, handoffs, [20, 40]);
      handoffRows.push(
        {
          group: 'handoff',
          label: `${strategy}: release → polling waiter acquires (two instances)`,
          tool: 'mig',
          summary: summarize(crossInstance),
          statements: null,
        },
        {
          group: 'handoff',
          label: `${strategy}: release → queued caller acquires (same process)`,
          tool: 'mig',
          summary: summarize(sameProcess),
          statements: null,
        },
      );
      ctx.log(`  ${strategy}: handoff median ${formatDuration(summarize(crossInstance).median)}`);
    }

    // One attempt's cost, measured: the strategy's uncontended acquire + release in this run.
    const attempt = (strategy: string) =>
      uncontended.find((r) => r.label.startsWith(`${strategy}:`))?.summary.median ?? Number.NaN;
    const targets: TargetCheck[] = handoffRows
      .filter((r) => r.label.includes('two instances'))
      .map((r) => {
        const strategy = r.label.split(':')[0] as string;
        const limit = MAX_DELAY_MS + attempt(strategy);
        return {
          target: `${strategy}: a polling waiter starts within the backoff ceiling (${MAX_DELAY_MS} ms) of a release, plus one attempt`,
          met: r.summary.max <= limit,
          detail: `median ${formatDuration(r.summary.median)}, max ${formatDuration(r.summary.max)} (limit ${formatDuration(limit)}: the ceiling plus the median uncontended acquire + release measured above)`,
        };
      });
    return {
      id: '7',
      title: 'Migration lock: acquire/release and handoff',
      unit: 'time per acquire + release; delay from release to the next holder',
      rows: [...uncontended.map((r) => ({ ...r, group: 'uncontended' })), ...handoffRows],
      comparisons: [],
      targets,
      notes: [
        `Uncontended: ${rounds} rounds of ${callsPerRound}, alternating strategies. Handoffs: ${handoffs} per strategy across instances, each after a random hold of 0.3–1.3 s, so the waiter is anywhere in its backoff (${initialDelayMs} ms growing ×${factor} to ${MAX_DELAY_MS} ms, minus up to ${jitter * 100} % jitter).`,
        `Counted per uncontended acquire + release: ${uncontended.map((r) => `${r.label.split(':')[0]} ${formatStatements(r.statements)} statements in ${formatStatements(r.roundTrips ?? null)} round trips`).join(', ')}.`,
      ],
      elapsedMs: performance.now() - started,
    };
  } finally {
    await holderConn.close();
    await waiterConn.close();
    await database.drop();
  }
}

/** Holds the lock for a random time in `holdMs`, releases it, and times how late the waiter gets it. */
async function measureHandoffs(
  holder: MigrationLock<KyselyFence>,
  waiter: MigrationLock<KyselyFence>,
  count: number,
  [minHold, maxHold]: [number, number],
): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    const held = await holder.acquire({ timeoutMs: 10_000 });
    let acquiredAt = 0;
    const waiting = waiter.acquire({ timeoutMs: 30_000 }).then((lease) => {
      acquiredAt = performance.now();
      return lease;
    });
    await new Promise((resolve) => setTimeout(resolve, minHold + Math.random() * (maxHold - minHold)));
    await held.release();
    const releasedAt = performance.now();
    const next = await waiting;
    delays.push(acquiredAt - releasedAt);
    await next.release();
  }
  return delays;
}
