import { LOCK_STRATEGIES, type LockStrategy } from '@mig/core';
import type { LockTimings } from '../compose.js';

/** What a race instance reports when it is done (see child/race-instance.ts and child/race-kysely.ts). */
export interface Ready {
  readonly name: string;
  readonly startedAt: number;
  readonly readyAt: number;
  readonly appliedHere: string[];
  readonly lockWaitMs: number | null;
  readonly lock: LockTimings;
  readonly migrations: string;
  readonly statements: number;
  readonly roundTrips?: number | undefined;
  /** Kysely's Migrator reports a failure in its result instead of throwing. */
  readonly error?: string | undefined;
}

/** Who races: mig with either lock strategy, or Kysely's own Migrator. */
export type RaceTool = LockStrategy | 'kysely';
export const RACE_TOOLS: readonly RaceTool[] = [...LOCK_STRATEGIES, 'kysely'];

/** A racing tool, or the floor: one process applying while the others only read an up-to-date status. */
export type Racer = RaceTool | 'floor';

/** Which copy of the migrations: `.js` modules (both tools read them) or the same as `.sql` files (mig only). */
export type RaceSet = 'js' | 'sql';

export function toolName(tool: RaceTool): string {
  return tool === 'kysely' ? "Kysely's Migrator" : `mig, ${tool} lock`;
}

export function racerName(racer: Racer): string {
  return racer === 'floor' ? 'floor (one applier, the others read an up-to-date status)' : toolName(racer);
}

export interface RaceRun {
  /** When the parent sent the start line (wall clock, ms). */
  readonly goAt: number;
  /** From the start signal to the last process done. */
  readonly wallMs: number;
  /** From the first spawn() to the last process done (process start and imports included). */
  readonly spawnToReadyMs: number;
  readonly instances: readonly Ready[];
  readonly exactlyOnce: { readonly ok: boolean; readonly detail: string };
}
