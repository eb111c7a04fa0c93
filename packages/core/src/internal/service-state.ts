import type { MigError } from '../errors.js';
import type { ForeignHistorySummary } from '../ports.js';
import type { MigrationStatus } from '../status.js';
import type { MigrationResult } from './run-record.js';

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
