import type { Summary } from './stats.js';

export type Mode = 'full' | 'quick';

/** Who a row measures: mig, Kysely's own Migrator, or a baseline (a bare round trip, a bare process). */
export type Tool = 'mig' | 'kysely' | 'drizzle' | 'baseline';

/** One measured variant. Times are milliseconds per call (or per run, for whole runs). */
export interface Row {
  /** Rows of one scenario are grouped, e.g. by the number of applied migrations. */
  readonly group?: string | undefined;
  /** The group's numeric parameter where it has one (applied migrations), for charts. */
  readonly param?: number | undefined;
  readonly label: string;
  readonly tool: Tool;
  readonly summary: Summary;
  /** Statements sent to PostgreSQL per call, counted on the pg clients; null where not counted. */
  readonly statements: number | null;
  /** Round trips (`client.query` calls) per call, counted on the pg clients; absent or null where not counted. */
  readonly roundTrips?: number | null | undefined;
}

export interface Comparison {
  readonly group?: string | undefined;
  readonly label: string;
  /** Median over median. */
  readonly ratio: number;
}

/**
 * What a target is about. `timing`: a figure on a shared, noisy machine, reported and never fatal.
 * `correctness`: something that must hold in every run (each migration applied exactly once); a run where
 * one is not met fails (exit code 1), so CI's quick run catches it.
 */
export const TARGET_KINDS = ['timing', 'correctness'] as const;
export type TargetKind = (typeof TARGET_KINDS)[number];

/** A stated goal and whether this run met it. `met` is null when the run could not tell (e.g. skipped). */
export interface TargetCheck {
  readonly target: string;
  readonly met: boolean | null;
  readonly detail: string;
  /** Default `timing`. */
  readonly kind?: TargetKind | undefined;
  /**
   * Why a timing target is missed, when it is: what this run measured that explains it (where the time
   * goes), shown beside the figures. Only figures of the run go into it.
   */
  readonly why?: string | undefined;
}

export interface ScenarioResult {
  readonly id: string;
  readonly title: string;
  /** What the figures are, in one line: per call, per process start, per full run. */
  readonly unit: string;
  readonly rows: readonly Row[];
  readonly comparisons: readonly Comparison[];
  readonly targets: readonly TargetCheck[];
  /** Observations worth keeping with the figures (breakdowns, checks, anomalies). */
  readonly notes: readonly string[];
  /** Wall time the scenario took, setup included. */
  readonly elapsedMs: number;
}

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly loadAverage: readonly number[];
  readonly os: string;
  readonly node: string;
  readonly postgres: string;
  readonly versions: Readonly<Record<string, string>>;
}

export interface BenchReport {
  readonly mode: Mode;
  readonly date: string;
  readonly elapsedMs: number;
  readonly machine: MachineInfo;
  readonly scenarios: readonly ScenarioResult[];
  /**
   * Scenarios run again after the full run (`--rerun`), each replacing its earlier result: when, and the
   * load average at its end.
   */
  readonly reruns?: readonly { readonly id: string; readonly date: string; readonly loadAverage: readonly number[] }[];
}
