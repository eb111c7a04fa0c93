import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_BACKOFF } from '../../src/defaults.js';
import { MigError, MigErrorCode, type MigrationProblem } from '../../src/errors.js';
import type { ForeignHistorySummary } from '../../src/ports.js';
import {
  decide,
  decideFailure,
  type FailureContext,
  resolvePolicy,
  type ServicePolicy,
} from '../../src/service/policy.js';
import type { MigrationStatus } from '../../src/status.js';

function status(overrides: Partial<MigrationStatus>): MigrationStatus {
  return {
    state: 'up-to-date',
    appliedCount: 2,
    pending: [],
    problems: [],
    ahead: [],
    head: { count: 2, digest: 'h2' },
    localDigest: 'l2',
    via: 'head',
    ...overrides,
  };
}

const upToDate = status({});
/** Two applied by mig, one pending. */
const pending = status({ state: 'pending', appliedCount: 2, pending: ['003_c'], localDigest: 'l3' });
/** Nothing recorded by mig: the case where another tool's history matters. */
const fresh = status({ state: 'pending', appliedCount: 0, pending: ['001_a', '002_b'], head: null });
const changed: MigrationProblem = { kind: 'changed', name: '001_a', appliedChecksum: 'x', localChecksum: 'y' };
const drifted = status({ state: 'drifted', problems: [changed] });
const kysely: ForeignHistorySummary = { tool: 'kysely', table: 'public.kysely_migration', applied: 2 };

const policy = (overrides: Partial<ServicePolicy> = {}): ServicePolicy =>
  resolvePolicy({ autoMigrate: true, ...overrides });

/** Every policy a test can mean "whatever the policy" by. */
const everyPolicy: ServicePolicy[] = [true, false].flatMap((autoMigrate) =>
  [true, false].flatMap((dryRun) =>
    (['warn', 'refuse'] as const).flatMap((onPending) =>
      (['throw', 'degrade'] as const).map((onFailure) => resolvePolicy({ autoMigrate, dryRun, onPending, onFailure })),
    ),
  ),
);

describe('resolvePolicy', () => {
  it('never migrates, warns on pending and throws on failure unless told otherwise', () => {
    const resolved = resolvePolicy({});
    expect(resolved).toEqual({ autoMigrate: false, dryRun: false, onPending: 'warn', onFailure: 'throw' });
    expect(Object.isFrozen(resolved)).toBe(true);
  });

  it('keeps what it is told', () => {
    expect(resolvePolicy({ autoMigrate: true, dryRun: true, onPending: 'refuse', onFailure: 'degrade' })).toEqual({
      autoMigrate: true,
      dryRun: true,
      onPending: 'refuse',
      onFailure: 'degrade',
    });
  });
});

describe('decide', () => {
  it('serves an up-to-date database whatever the policy', () => {
    for (const p of everyPolicy) expect(decide(upToDate, p, { known: [] })).toEqual({ kind: 'serve', ahead: [] });
  });

  it('serves a database a newer deploy migrated ahead, naming what it is ahead by', () => {
    const ahead = status({ ahead: ['004_newer'] });
    expect(decide(ahead, policy(), { known: [] })).toEqual({ kind: 'serve', ahead: ['004_newer'] });
  });

  it('fails on drift whatever the policy, naming the problems', () => {
    for (const p of everyPolicy) {
      expect(decide(drifted, p, { known: [], found: [] })).toEqual({ kind: 'drift', problems: [changed] });
    }
  });

  it('applies pending migrations when automatic migration is on', () => {
    expect(decide(pending, policy(), { known: [] })).toEqual({ kind: 'migrate', pending: ['003_c'] });
  });

  it('with automatic migration off, reports pending migrations and serves anyway under warn', () => {
    const p = policy({ autoMigrate: false, onPending: 'warn' });
    expect(decide(pending, p, { known: [] })).toEqual({ kind: 'pending', pending: ['003_c'], refuse: false });
  });

  it('with automatic migration off, refuses under refuse', () => {
    const p = policy({ autoMigrate: false, onPending: 'refuse' });
    expect(decide(pending, p, { known: [] })).toEqual({ kind: 'pending', pending: ['003_c'], refuse: true });
  });

  it('previews in a dry run, with automatic migration on or off and under either pending policy', () => {
    for (const p of everyPolicy.filter((q) => q.dryRun)) {
      expect(decide(pending, p, { known: [] })).toEqual({ kind: 'dry-run' });
    }
  });

  it('asks for a look at other tools’ histories before deciding on a database without mig records', () => {
    for (const p of everyPolicy) expect(decide(fresh, p, { known: [] })).toEqual({ kind: 'look-for-foreign' });
  });

  it('never asks for that look when mig has records', () => {
    expect(decide(pending, policy(), { known: [] }).kind).toBe('migrate');
  });

  it('reports another tool’s history found there, before a dry run or a migration, refusing under refuse', () => {
    for (const p of everyPolicy) {
      expect(decide(fresh, p, { found: [kysely], known: [] })).toEqual({
        kind: 'foreign',
        histories: [kysely],
        refuse: p.onPending === 'refuse',
      });
    }
  });

  it('goes on by policy when the look finds no other history', () => {
    expect(decide(fresh, policy(), { found: [], known: [] })).toEqual({ kind: 'migrate', pending: ['001_a', '002_b'] });
    expect(decide(fresh, policy({ autoMigrate: false }), { found: [], known: [] })).toEqual({
      kind: 'pending',
      pending: ['001_a', '002_b'],
      refuse: false,
    });
    expect(decide(fresh, policy({ dryRun: true }), { found: [], known: [] })).toEqual({ kind: 'dry-run' });
  });

  it('keeps serving as it is once another tool’s history was reported, applying nothing', () => {
    // Reported on an earlier initialization: the look finds nothing new now, or mig has records meanwhile.
    expect(decide(fresh, policy(), { found: [], known: [kysely] })).toEqual({ kind: 'keep' });
    expect(decide(pending, policy(), { known: [kysely] })).toEqual({ kind: 'keep' });
    expect(decide(pending, policy({ autoMigrate: false, onPending: 'refuse' }), { known: [kysely] })).toEqual({
      kind: 'keep',
    });
  });

  it('lets an up-to-date status or drift win over a history reported before', () => {
    expect(decide(upToDate, policy(), { known: [kysely] })).toEqual({ kind: 'serve', ahead: [] });
    expect(decide(drifted, policy(), { known: [kysely] })).toEqual({ kind: 'drift', problems: [changed] });
  });
});

describe('decideFailure', () => {
  const error = (code: MigErrorCode) => new MigError(code, `a ${code} failure`);
  const at = (overrides: Partial<FailureContext> = {}): FailureContext => ({
    failures: 0,
    connected: true,
    closing: false,
    ...overrides,
  });
  const degrade = policy({ onFailure: 'degrade' });

  it('gives up, without counting a failure, when the service is closing or the call was aborted', () => {
    expect(decideFailure(error(MigErrorCode.Store), degrade, at({ closing: true }))).toEqual({ kind: 'give-up' });
    expect(decideFailure(error(MigErrorCode.Aborted), degrade, at())).toEqual({ kind: 'give-up' });
    expect(decideFailure(error(MigErrorCode.Aborted), policy(), at({ failures: 3 }))).toEqual({ kind: 'give-up' });
  });

  it('under throw, retries after a backoff without serving', () => {
    expect(decideFailure(error(MigErrorCode.MigrationFailed), policy(), at())).toEqual({
      kind: 'retry',
      degraded: false,
      delayMs: DEFAULT_RETRY_BACKOFF.initialMs,
    });
  });

  it('under degrade, keeps serving a connected service through a failed migration, lock timeout or drift', () => {
    for (const code of [MigErrorCode.MigrationFailed, MigErrorCode.LockTimeout, MigErrorCode.Drift]) {
      expect(decideFailure(error(code), degrade, at())).toEqual({ kind: 'retry', degraded: true, delayMs: 1_000 });
    }
  });

  it('never serves degraded without a connection, when refusing pending migrations, or when connecting failed', () => {
    const expected = { kind: 'retry', degraded: false, delayMs: 1_000 };
    expect(decideFailure(error(MigErrorCode.MigrationFailed), degrade, at({ connected: false }))).toEqual(expected);
    expect(decideFailure(error(MigErrorCode.Pending), degrade, at())).toEqual(expected);
    expect(decideFailure(error(MigErrorCode.ConnectFailed), degrade, at())).toEqual(expected);
  });

  it('doubles the wait with each failure in a row, up to the cap', () => {
    const delays = [0, 1, 2, 5, 6, 20].map(
      (failures) =>
        (decideFailure(error(MigErrorCode.Store), policy(), at({ failures })) as { delayMs: number }).delayMs,
    );
    expect(delays).toEqual([1_000, 2_000, 4_000, 32_000, 60_000, 60_000]);
  });

  it('takes the service’s retryBackoff', () => {
    const backoff = { initialMs: 100, maxMs: 250 };
    const delays = [0, 1, 2, 3].map(
      (failures) =>
        (decideFailure(error(MigErrorCode.Store), policy(), at({ failures, backoff })) as { delayMs: number }).delayMs,
    );
    expect(delays).toEqual([100, 200, 250, 250]);
  });
});
