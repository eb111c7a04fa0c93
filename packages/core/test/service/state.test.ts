import { describe, expect, it } from 'vitest';
import { MigError, MigErrorCode } from '../../src/errors.js';
import type { MigrationResult } from '../../src/migrator/types.js';
import type { ForeignHistorySummary } from '../../src/ports.js';
import { resolvePolicy } from '../../src/service/policy.js';
import {
  IDLE_SERVICE_STATE,
  initialServiceModel,
  type ServiceAction,
  type ServiceModel,
  serviceReducer,
  viewServiceState,
} from '../../src/service/state.js';
import type { MigrationStatus } from '../../src/status.js';
import { FakeClock } from '../support/fake-clock.js';

const pendingStatus: MigrationStatus = {
  state: 'pending',
  appliedCount: 1,
  pending: ['002_b'],
  problems: [],
  ahead: [],
  head: { count: 1, digest: 'h1' },
  localDigest: 'l2',
  via: 'head',
};
const upToDateStatus: MigrationStatus = {
  ...pendingStatus,
  state: 'up-to-date',
  appliedCount: 2,
  pending: [],
  head: { count: 2, digest: 'h2' },
};
const failure = new MigError(MigErrorCode.LockTimeout, 'the lock was held too long', { context: { waitedMs: 30 } });
const kysely: ForeignHistorySummary = { tool: 'kysely', table: 'public.kysely_migration', applied: 2 };
const planned: MigrationResult[] = [
  { name: '002_b', direction: 'up', status: 'planned', durationMs: 0, transactional: true, sql: ['create table b'] },
];

/** Folds actions over the initial model, as the service's #dispatch does. */
function fold(...actions: ServiceAction[]): ServiceModel {
  return actions.reduce(serviceReducer, initialServiceModel);
}

const checked: ServiceAction = {
  type: 'checked',
  status: pendingStatus,
  source: 'database',
  durationMs: 4,
  epoch: 1_700_000_000_000,
  freshUntil: 300_000,
};
const failed = (degraded: boolean, retryAt = 1_000): ServiceAction => ({
  type: 'failed',
  error: failure,
  epoch: 1_700_000_000_500,
  retryAt,
  degraded,
});

describe('serviceReducer', () => {
  it('starts idle, serving nothing, knowing nothing', () => {
    expect(initialServiceModel).toEqual({
      phase: 'idle',
      serving: false,
      migrations: 'unknown',
      status: undefined,
      appliedHere: [],
      planned: [],
      foreign: [],
      lastCheck: null,
      lastError: undefined,
      lockWaitMs: null,
      failures: 0,
      retryAt: 0,
      freshUntil: 0,
      restUntil: 0,
    });
    expect(Object.isFrozen(initialServiceModel)).toBe(true);
  });

  it('initialize: an idle or failed service initializes; a serving one stays as it is', () => {
    expect(fold({ type: 'initialize' }).phase).toBe('initializing');
    expect(fold(failed(false), { type: 'initialize' }).phase).toBe('initializing');
    const ready = fold({ type: 'ready' });
    expect(serviceReducer(ready, { type: 'initialize' })).toBe(ready);
    const degraded = fold(failed(true));
    expect(serviceReducer(degraded, { type: 'initialize' })).toBe(degraded);
  });

  it('checked: keeps the status, when it was learnt and until when it is trusted', () => {
    const model = fold({ type: 'initialize' }, checked);
    expect(model).toMatchObject({
      phase: 'initializing',
      status: pendingStatus,
      freshUntil: 300_000,
      lastCheck: { epoch: 1_700_000_000_000, source: 'database', durationMs: 4 },
      migrations: 'unknown',
    });
  });

  it('judged: pending and drifted as they are; up to date is "applied" once this process applied some', () => {
    expect(fold({ type: 'judged', migrations: 'pending' }).migrations).toBe('pending');
    expect(fold({ type: 'judged', migrations: 'drifted' }).migrations).toBe('drifted');
    expect(fold({ type: 'judged', migrations: 'up-to-date' }).migrations).toBe('up-to-date');
    const migrated: ServiceAction = {
      type: 'migrated',
      applied: ['002_b'],
      lockWaitMs: 0,
      failed: false,
      freshUntil: 0,
    };
    expect(fold(migrated, { type: 'judged', migrations: 'up-to-date' }).migrations).toBe('applied');
  });

  it('planned: keeps a dry run’s plan', () => {
    const model = fold({ type: 'planned', planned });
    expect(model.planned).toEqual(planned);
    expect(model.migrations).toBe('dry-run');
  });

  it('foreign-history: keeps the histories found, and the migrations stay pending', () => {
    const model = fold({ type: 'foreign-history', histories: [kysely] });
    expect(model.foreign).toEqual([kysely]);
    expect(model.migrations).toBe('pending');
  });

  it('migrated: adds what was applied, trusts the status the run ended with', () => {
    const model = fold(checked, {
      type: 'migrated',
      applied: ['002_b'],
      lockWaitMs: 12,
      failed: false,
      status: upToDateStatus,
      freshUntil: 400_000,
    });
    expect(model).toMatchObject({
      appliedHere: ['002_b'],
      lockWaitMs: 12,
      status: upToDateStatus,
      freshUntil: 400_000,
      migrations: 'applied',
    });
  });

  it('migrated without a status: keeps the status and freshness it had; nothing applied is "up-to-date"', () => {
    const model = fold(checked, { type: 'migrated', applied: [], lockWaitMs: 3, failed: false, freshUntil: 999 });
    expect(model).toMatchObject({ status: pendingStatus, freshUntil: 300_000, migrations: 'up-to-date' });
  });

  it('migrated with a failure: "failed", keeping what was applied before it, and the old status', () => {
    const model = fold(checked, {
      type: 'migrated',
      applied: ['002_b'],
      lockWaitMs: 5,
      failed: true,
      status: upToDateStatus,
      freshUntil: 400_000,
    });
    expect(model).toMatchObject({
      appliedHere: ['002_b'],
      lockWaitMs: 5,
      status: pendingStatus,
      freshUntil: 300_000,
      migrations: 'failed',
    });
  });

  it('ready: serves, and forgets the failures', () => {
    const model = fold(failed(false), failed(false), { type: 'initialize' }, { type: 'ready' });
    expect(model).toMatchObject({ phase: 'ready', serving: true, failures: 0, lastError: undefined });
  });

  it('failed: counts failures in a row and refuses until retryAt', () => {
    const once = fold({ type: 'initialize' }, failed(false, 1_000));
    expect(once).toMatchObject({
      phase: 'failed',
      serving: false,
      failures: 1,
      retryAt: 1_000,
      lastError: { error: failure, epoch: 1_700_000_000_500 },
    });
    expect(serviceReducer(once, failed(false, 3_000))).toMatchObject({ failures: 2, retryAt: 3_000 });
  });

  it('failed, degraded: keeps serving, counted as a failure all the same', () => {
    const model = fold({ type: 'ready' }, failed(true, 2_000));
    expect(model).toMatchObject({ phase: 'degraded', serving: true, failures: 1, retryAt: 2_000 });
    expect(serviceReducer(model, failed(false))).toMatchObject({ phase: 'failed', serving: false, failures: 2 });
  });

  it('gave-up: not a failure; a service that was not serving goes back to idle, a serving one stays', () => {
    const aborted = new MigError(MigErrorCode.Aborted, 'the caller gave up');
    const idle = fold({ type: 'initialize' }, { type: 'gave-up', error: aborted, epoch: 7 });
    expect(idle).toMatchObject({ phase: 'idle', serving: false, failures: 0, lastError: { error: aborted, epoch: 7 } });
    const degraded = fold(failed(true), { type: 'gave-up', error: aborted, epoch: 8 });
    expect(degraded).toMatchObject({ phase: 'degraded', serving: true, failures: 1 });
  });

  it('revalidating and revalidate-failed: move the freshness and the rest after a failed background check', () => {
    const ready = fold(checked, { type: 'ready' });
    expect(serviceReducer(ready, { type: 'revalidating', freshUntil: 600_000 })).toEqual({
      ...ready,
      freshUntil: 600_000,
    });
    expect(serviceReducer(ready, { type: 'revalidate-failed', restUntil: 5_000 })).toEqual({
      ...ready,
      restUntil: 5_000,
    });
  });

  it('closed: stops serving, and is terminal: no action brings the service back', () => {
    const closed = fold(checked, { type: 'ready' }, { type: 'closed' });
    expect(closed).toMatchObject({ phase: 'closed', serving: false });
    const actions: ServiceAction[] = [
      { type: 'initialize' },
      checked,
      { type: 'judged', migrations: 'up-to-date' },
      { type: 'planned', planned },
      { type: 'foreign-history', histories: [kysely] },
      { type: 'migrated', applied: ['x'], lockWaitMs: 1, failed: false, freshUntil: 1 },
      { type: 'ready' },
      { type: 'gave-up', error: failure, epoch: 1 },
      failed(true),
      { type: 'revalidating', freshUntil: 1 },
      { type: 'revalidate-failed', restUntil: 1 },
      { type: 'closed' },
    ];
    for (const action of actions) expect(serviceReducer(closed, action)).toBe(closed);
  });

  it('never changes the model it is given', () => {
    const model = Object.freeze(fold(checked));
    const copy = structuredClone(model);
    serviceReducer(model, { type: 'migrated', applied: ['002_b'], lockWaitMs: 1, failed: false, freshUntil: 1 });
    serviceReducer(model, failed(true));
    expect(model).toEqual(copy);
  });
});

describe('viewServiceState', () => {
  const policy = resolvePolicy({ autoMigrate: true, onFailure: 'degrade' });

  it('IDLE_SERVICE_STATE: what a service that has not started reports, with the default policy', () => {
    expect(IDLE_SERVICE_STATE).toEqual({
      phase: 'idle',
      serving: false,
      healthy: false,
      migrations: 'unknown',
      appliedCount: null,
      pending: [],
      problems: [],
      appliedHere: [],
      planned: [],
      foreignHistories: [],
      lastCheck: null,
      lastError: null,
      lockWaitMs: null,
      retryAt: null,
      policy: { autoMigrate: false, dryRun: false, onPending: 'warn', onFailure: 'throw' },
    });
    expect(Object.isFrozen(IDLE_SERVICE_STATE)).toBe(true);
  });

  it('a ready service: healthy, with its status, last check and policy, in times for people', () => {
    const clock = new FakeClock();
    const model = fold(
      checked,
      { type: 'migrated', applied: ['002_b'], lockWaitMs: 12, failed: false, status: upToDateStatus, freshUntil: 1 },
      { type: 'foreign-history', histories: [kysely] },
      { type: 'ready' },
    );
    const state = viewServiceState(model, policy, clock);
    expect(state).toEqual({
      phase: 'ready',
      serving: true,
      healthy: true,
      migrations: 'pending',
      appliedCount: 2,
      pending: [],
      problems: [],
      appliedHere: ['002_b'],
      planned: [],
      foreignHistories: [kysely],
      lastCheck: { at: '2023-11-14T22:13:20.000Z', source: 'database', durationMs: 4 },
      lastError: null,
      lockWaitMs: 12,
      retryAt: null,
      policy,
    });
    expect(Object.isFrozen(state)).toBe(true);
    expect(state.appliedHere).not.toBe(model.appliedHere);
  });

  it('a degraded service serves but is not healthy, and says when it retries (on the epoch clock)', () => {
    const clock = new FakeClock();
    clock.time = 10_000;
    const state = viewServiceState(fold({ type: 'ready' }, failed(true, 15_000)), policy, clock);
    expect(state).toMatchObject({
      phase: 'degraded',
      serving: true,
      healthy: false,
      retryAt: new Date(Date.UTC(2026, 0, 1) + 15_000).toISOString(),
      lastError: {
        code: 'LOCK_TIMEOUT',
        message: 'the lock was held too long',
        context: { waitedMs: 30 },
        at: new Date(1_700_000_000_500).toISOString(),
      },
    });
  });

  it('a failed service whose retry time has passed retries now, never in the past', () => {
    const clock = new FakeClock();
    clock.time = 20_000;
    const state = viewServiceState(fold(failed(false, 15_000)), policy, clock);
    expect(state).toMatchObject({ phase: 'failed', serving: false, healthy: false });
    expect(state.retryAt).toBe(new Date(Date.UTC(2026, 0, 1) + 20_000).toISOString());
  });
});
