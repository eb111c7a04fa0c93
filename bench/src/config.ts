import type { Mode } from './types.js';

/** How much of each scenario a mode runs. Full: the published figures. Quick: keeps the code working in CI. */
export interface Settings {
  /** Scenario 1: child processes per variant, batches per process, calls per batch. */
  readonly fastPath: { readonly processes: number; readonly batches: number; readonly calls: number };
  /** Scenario 2: rounds, and calls per round for peek (sync) and get (awaited). */
  readonly cache: { readonly rounds: number; readonly peekCalls: number; readonly getCalls: number };
  /** Scenario 3: applied-migration counts; rounds (all counts interleaved); timed calls per round of the fast variants. */
  readonly statusCheck: { readonly counts: readonly number[]; readonly rounds: number; readonly callsPerRound: number };
  /** Scenario 4: process starts per variant. */
  readonly coldStart: { readonly rounds: number; readonly warmup: number };
  /** Scenario 5: fresh databases per tool. */
  readonly fullApply: { readonly rounds: number; readonly warmup: number };
  /** Scenario 6: racing process counts (each against one process), rounds per tool and count. */
  readonly race: { readonly sizes: readonly number[]; readonly rounds: number };
  /** Scenario 7: acquire/release rounds; release-to-waiter handoffs per strategy. */
  readonly lock: { readonly rounds: number; readonly callsPerRound: number; readonly handoffs: number };
  /** Scenario 12: rounds (each variant on a fresh database), how long the report holds its transaction, ms. */
  readonly lockQueue: { readonly rounds: number; readonly holdMs: number };
  /** Scenario 8: rounds, calls per round. */
  readonly warmInit: { readonly rounds: number; readonly callsPerRound: number };
  /** Scenario 9: instances through the pooler, rounds (each a race and a round of status checks). */
  readonly pooler: { readonly instances: number; readonly rounds: number };
  /** Scenario 10: `mig status` processes per variant. */
  readonly cliStatus: { readonly rounds: number; readonly warmup: number };
  /**
   * Scenario 11, per engine (MariaDB, SQLite): no-op check rounds and timed calls per round; full-apply runs
   * and warm-up runs per tool; racing process counts and race rounds.
   */
  /**
   * Scenario 14: tenants and migrations of the mig-vs-psql runs, rounds of them; tenants of the many-tenant
   * part, and ready calls timed there.
   */
  readonly tenants: {
    readonly count: number;
    readonly migrations: number;
    readonly rounds: number;
    readonly many: number;
    readonly calls: number;
  };
  /** Scenario 13: migrations in the long history, rounds. */
  readonly longHistory: { readonly count: number; readonly rounds: number };
  readonly engines: {
    readonly checkRounds: number;
    readonly callsPerRound: number;
    readonly applyRounds: number;
    readonly applyWarmup: number;
    readonly raceSizes: readonly number[];
    readonly raceRounds: number;
  };
}

/** Scenario 9: PgBouncer's server connections per database (`default_pool_size`). */
export const POOLER_POOL_SIZE = 10;

/** Migrations of the "real" folder: scenarios 1, 4, 5, 6, 8, 9 and 10. */
export const APPLY_COUNT = 50;

const FULL: Settings = {
  fastPath: { processes: 6, batches: 20, calls: 1_000_000 },
  cache: { rounds: 30, peekCalls: 1_000_000, getCalls: 100_000 },
  statusCheck: { counts: [10, 1_000, 10_000], rounds: 20, callsPerRound: 10 },
  coldStart: { rounds: 30, warmup: 2 },
  fullApply: { rounds: 8, warmup: 1 },
  race: { sizes: [10, 30], rounds: 3 },
  lock: { rounds: 40, callsPerRound: 10, handoffs: 12 },
  lockQueue: { rounds: 5, holdMs: 6_000 },
  warmInit: { rounds: 60, callsPerRound: 10 },
  pooler: { instances: 100, rounds: 2 },
  cliStatus: { rounds: 20, warmup: 2 },
  engines: { checkRounds: 20, callsPerRound: 10, applyRounds: 5, applyWarmup: 1, raceSizes: [10], raceRounds: 3 },
  longHistory: { count: 10_000, rounds: 3 },
  tenants: { count: 200, migrations: 5, rounds: 3, many: 10_000, calls: 1_000_000 },
};

const QUICK: Settings = {
  fastPath: { processes: 1, batches: 5, calls: 200_000 },
  cache: { rounds: 5, peekCalls: 200_000, getCalls: 20_000 },
  statusCheck: { counts: [10, 1_000], rounds: 5, callsPerRound: 5 },
  coldStart: { rounds: 3, warmup: 1 },
  fullApply: { rounds: 1, warmup: 0 },
  race: { sizes: [5, 10], rounds: 1 },
  lock: { rounds: 5, callsPerRound: 5, handoffs: 2 },
  lockQueue: { rounds: 1, holdMs: 3_000 },
  warmInit: { rounds: 5, callsPerRound: 5 },
  pooler: { instances: 20, rounds: 1 },
  cliStatus: { rounds: 3, warmup: 1 },
  engines: { checkRounds: 5, callsPerRound: 5, applyRounds: 1, applyWarmup: 0, raceSizes: [5], raceRounds: 1 },
  longHistory: { count: 1_000, rounds: 1 },
  tenants: { count: 20, migrations: 5, rounds: 1, many: 200, calls: 100_000 },
};

export function settingsFor(mode: Mode): Settings {
  return mode === 'quick' ? QUICK : FULL;
}
