import type { MigrationProblem } from './errors.js';
import type { StoreHead } from './head.js';
import type { Migration } from './migration.js';
import type { LocalHistory, MigrationPlan } from './planner.js';
import type { AppliedMigration, Leftover } from './ports.js';

export type StatusState = 'up-to-date' | 'pending' | 'drifted';

/** The answer of a status check. */
export interface MigrationStatus {
  readonly state: StatusState;
  readonly appliedCount: number;
  /** Names of pending migrations in the order they would be applied. */
  readonly pending: readonly string[];
  readonly problems: readonly MigrationProblem[];
  /** Applied by a newer version of the code: recorded, sorting after every local migration (not drift). */
  readonly ahead: readonly string[];
  /** The store's head; null when its tables do not exist yet. */
  readonly head: StoreHead | null;
  /** Digest of the local migration set; part of cache keys. */
  readonly localDigest: string;
  /** "head": one row compared; "records": every applied record read and compared. */
  readonly via: 'head' | 'records';
}

/** Status plus the full lists, for `mig status` and `mig verify`. */
export interface MigrationInspection<Db = unknown> {
  readonly status: MigrationStatus;
  readonly applied: readonly AppliedMigration[];
  readonly local: readonly Migration<Db>[];
  /** What failed runs of pending migrations left behind (an invalid index), removed when they run again. */
  readonly leftovers: readonly Leftover[];
}

/** Builds a status from a plan (or the pending list the head proved). */
export function statusOf<Db>(
  history: LocalHistory<Db>,
  head: StoreHead | null,
  appliedCount: number,
  plan: Pick<MigrationPlan<Db>, 'pending' | 'problems' | 'ahead'>,
  via: MigrationStatus['via'],
): MigrationStatus {
  const { pending, problems, ahead } = plan;
  return {
    state: problems.length > 0 ? 'drifted' : pending.length > 0 ? 'pending' : 'up-to-date',
    appliedCount,
    pending: pending.map((m) => m.name),
    problems,
    ahead,
    head,
    localDigest: history.digest,
    via,
  };
}
