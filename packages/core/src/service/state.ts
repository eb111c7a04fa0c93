// The service's state: one immutable model, changed only by the reducer (a pure function of the model and
// a named action), and the public view `state()` returns, built from the model alone.
import { type Clock, systemClock } from '../clock.js';
import type { MigError, MigrationProblem } from '../errors.js';
import type { MigrationResult } from '../migrator/types.js';
import type { ForeignHistorySummary } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import { resolvePolicy, type ServicePolicy } from './policy.js';

/** Where the service is: `ready` and `degraded` serve; `failed` refuses until its next retry. */
export type ServicePhase = 'idle' | 'initializing' | 'ready' | 'degraded' | 'failed' | 'closed';

/** What the service knows of the schema. */
export type MigrationState = 'unknown' | 'up-to-date' | 'pending' | 'applied' | 'dry-run' | 'drifted' | 'failed';

/**
 * Everything the database service knows, as one immutable value. It changes only through
 * {@link serviceReducer}; times are on the service clock (`now` monotonic, `epoch` for people).
 */
export interface ServiceModel {
  readonly phase: ServicePhase;
  /** `ensureInitialized()` resolves at once (ready, or degraded). */
  readonly serving: boolean;
  readonly migrations: MigrationState;
  readonly status: MigrationStatus | undefined;
  readonly appliedHere: readonly string[];
  readonly planned: readonly MigrationResult[];
  /** Other tools' histories found in a database without mig records. */
  readonly foreign: readonly ForeignHistorySummary[];
  readonly lastCheck: {
    readonly epoch: number;
    readonly source: 'cache' | 'database';
    readonly durationMs: number;
  } | null;
  readonly lastError: { readonly error: MigError; readonly epoch: number } | undefined;
  readonly lockWaitMs: number | null;
  /** Failures in a row; resets when ready. */
  readonly failures: number;
  /** After a failure: no new attempt before this. */
  readonly retryAt: number;
  /** Without a cache: the status is trusted until this. */
  readonly freshUntil: number;
  /** After a failed background check: none starts again before this. */
  readonly restUntil: number;
}

export const initialServiceModel: ServiceModel = Object.freeze({
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

/** The named transitions of the service. */
export type ServiceAction =
  | { readonly type: 'initialize' }
  | {
      readonly type: 'checked';
      readonly status: MigrationStatus;
      readonly source: 'cache' | 'database';
      readonly durationMs: number;
      readonly epoch: number;
      readonly freshUntil: number;
    }
  /** The status check's verdict without a run: up to date, pending (not applying), drifted. */
  | { readonly type: 'judged'; readonly migrations: MigrationState }
  | { readonly type: 'planned'; readonly planned: readonly MigrationResult[] }
  /** Pending, but another tool's history is there: nothing is applied until it is adopted. */
  | { readonly type: 'foreign-history'; readonly histories: readonly ForeignHistorySummary[] }
  | {
      readonly type: 'migrated';
      readonly applied: readonly string[];
      readonly lockWaitMs: number;
      readonly failed: boolean;
      /** The status the run ended with, trusted until `freshUntil`. */
      readonly status?: MigrationStatus | undefined;
      readonly freshUntil: number;
    }
  | { readonly type: 'ready' }
  /** Not a failure of the database (a caller's budget ran out): the next call tries again at once. */
  | { readonly type: 'gave-up'; readonly error: MigError; readonly epoch: number }
  | {
      readonly type: 'failed';
      readonly error: MigError;
      readonly epoch: number;
      readonly retryAt: number;
      /** Keep serving the connection (the failure policy allows it). */
      readonly degraded: boolean;
    }
  | { readonly type: 'revalidating'; readonly freshUntil: number }
  | { readonly type: 'revalidate-failed'; readonly restUntil: number }
  | { readonly type: 'closed' };

/** Ready, or up to date as far as the last check knows: what a verdict of "nothing to do" is called. */
function settled(model: ServiceModel): MigrationState {
  return model.appliedHere.length > 0 ? 'applied' : 'up-to-date';
}

/** The next model after `action`: pure, and a closed service stays closed whatever comes. */
export function serviceReducer(model: ServiceModel, action: ServiceAction): ServiceModel {
  if (model.phase === 'closed') return model; // a closed service never comes back to life
  switch (action.type) {
    case 'initialize':
      return model.serving ? model : { ...model, phase: 'initializing' };
    case 'checked':
      return {
        ...model,
        status: action.status,
        freshUntil: action.freshUntil,
        lastCheck: { epoch: action.epoch, source: action.source, durationMs: action.durationMs },
      };
    case 'judged':
      return { ...model, migrations: action.migrations === 'up-to-date' ? settled(model) : action.migrations };
    case 'planned':
      return { ...model, planned: action.planned, migrations: 'dry-run' };
    case 'foreign-history':
      return { ...model, foreign: action.histories, migrations: 'pending' };
    case 'migrated': {
      const next = {
        ...model,
        appliedHere: [...model.appliedHere, ...action.applied],
        lockWaitMs: action.lockWaitMs,
      };
      if (action.failed) return { ...next, migrations: 'failed' };
      return {
        ...next,
        status: action.status ?? model.status,
        freshUntil: action.status ? action.freshUntil : model.freshUntil,
        migrations: settled(next),
      };
    }
    case 'ready':
      return { ...model, phase: 'ready', serving: true, failures: 0, lastError: undefined };
    case 'gave-up':
      return {
        ...model,
        phase: model.serving ? model.phase : 'idle',
        lastError: { error: action.error, epoch: action.epoch },
      };
    case 'failed':
      return {
        ...model,
        phase: action.degraded ? 'degraded' : 'failed',
        serving: action.degraded,
        failures: model.failures + 1,
        retryAt: action.retryAt,
        lastError: { error: action.error, epoch: action.epoch },
      };
    case 'revalidating':
      return { ...model, freshUntil: action.freshUntil };
    case 'revalidate-failed':
      return { ...model, restUntil: action.restUntil };
    case 'closed':
      return { ...model, phase: 'closed', serving: false };
  }
}

/** The service as it is now; reading it does no I/O. */
export interface ServiceState {
  readonly phase: ServicePhase;
  /** `ensureInitialized()` resolves at once. */
  readonly serving: boolean;
  /** Serving, not degraded, and not refusing: what `/health` reports as 200. */
  readonly healthy: boolean;
  readonly migrations: MigrationState;
  readonly appliedCount: number | null;
  readonly pending: readonly string[];
  readonly problems: readonly MigrationProblem[];
  /** Migrations this process applied. */
  readonly appliedHere: readonly string[];
  /** The last dry run's plan. */
  readonly planned: readonly MigrationResult[];
  /**
   * Other migration tools' histories found in a database without mig records: nothing is applied until
   * they are adopted (or baselined).
   */
  readonly foreignHistories: readonly ForeignHistorySummary[];
  readonly lastCheck: {
    readonly at: string;
    readonly source: 'cache' | 'database';
    readonly durationMs: number;
  } | null;
  /** The last failure: its code, message (no secrets) and structured context, e.g. for advice at the edge. */
  readonly lastError: {
    readonly code: string;
    readonly message: string;
    readonly context: Readonly<Record<string, unknown>>;
    readonly at: string;
  } | null;
  readonly lockWaitMs: number | null;
  /** When a failed or degraded service tries again. */
  readonly retryAt: string | null;
  readonly policy: ServicePolicy;
  /** The tenant, for a tenant's service. */
  readonly tenant?: string | undefined;
}

/**
 * The public view of a model: plain, frozen, with times for people (ISO strings). `clock` turns the model's
 * monotonic `retryAt` into an epoch time; it is read only for a failed or degraded service.
 */
export function viewServiceState(model: ServiceModel, policy: ServicePolicy, clock: Clock): ServiceState {
  const { status } = model;
  const epochOf = (monotonic: number) => clock.epochNow() + (monotonic - clock.now());
  return Object.freeze({
    phase: model.phase,
    serving: model.serving,
    healthy: model.serving && model.phase === 'ready',
    migrations: model.migrations,
    appliedCount: status ? status.appliedCount : null,
    pending: status?.pending ?? [],
    problems: status?.problems ?? [],
    appliedHere: [...model.appliedHere],
    planned: model.planned,
    foreignHistories: model.foreign,
    lastCheck: model.lastCheck
      ? {
          at: new Date(model.lastCheck.epoch).toISOString(),
          source: model.lastCheck.source,
          durationMs: model.lastCheck.durationMs,
        }
      : null,
    lastError: model.lastError
      ? {
          code: model.lastError.error.code,
          message: model.lastError.error.message,
          context: model.lastError.error.context,
          at: new Date(model.lastError.epoch).toISOString(),
        }
      : null,
    lockWaitMs: model.lockWaitMs,
    retryAt:
      model.phase === 'failed' || model.phase === 'degraded'
        ? new Date(Math.max(clock.epochNow(), epochOf(model.retryAt))).toISOString()
        : null,
    policy,
  });
}

/**
 * The state of a service that has not started (or does not exist yet), with the default policy: what an
 * edge that builds its service lazily reports until then.
 */
export const IDLE_SERVICE_STATE: ServiceState = /* @__PURE__ */ viewServiceState(
  initialServiceModel,
  resolvePolicy({}),
  systemClock,
);
