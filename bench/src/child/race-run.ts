// The part of a race every child runs the same way: say "armed", wait for the start line, migrate, and report
// when it was done and what it applied. Nothing here loads mig, so a Kysely child starts as Kysely alone would.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FileMigrationProvider, type Kysely, Migrator } from 'kysely';
import { emit, waitForStart } from './protocol.js';

/** Statements and round trips this process sent, where the child counts them. */
export interface Counts {
  readonly count: number;
  readonly roundTrips: number;
}

/** Wall-clock ms, comparable between processes. */
const wallNow = () => performance.timeOrigin + performance.now();

function counted(counts: Counts | undefined): Record<string, number> {
  return counts ? { statements: counts.count, roundTrips: counts.roundTrips } : { statements: 0 };
}

/** What a mig race instance runs: its service (built by the child) and the lock timings it fills. */
export interface MigRacer {
  ensureInitialized(): Promise<unknown>;
  state(): { readonly appliedHere: readonly string[]; readonly lockWaitMs: number | null; readonly migrations: string };
  close(): Promise<void>;
}

/** mig's side of a race: `ensureInitialized()` from the start line. */
export async function raceMig(service: MigRacer, lock: object, name: string, counts?: Counts): Promise<void> {
  emit('armed');
  await waitForStart();
  const startedAt = wallNow();
  await service.ensureInitialized();
  const readyAt = wallNow();
  const { appliedHere, lockWaitMs, migrations } = service.state();
  emit('ready', { name, startedAt, readyAt, appliedHere, lockWaitMs, lock, migrations, ...counted(counts) });
  await service.close();
}

/** Kysely's side of a race: its Migrator with FileMigrationProvider, `migrateToLatest()` from the start line. */
export async function raceKysely(db: Kysely<any>, dir: string, name: string, counts?: Counts): Promise<void> {
  const migrator = new Migrator({ db, provider: new FileMigrationProvider({ fs, path, migrationFolder: dir }) });
  emit('armed');
  await waitForStart();
  const startedAt = wallNow();
  const { error, results } = await migrator.migrateToLatest();
  const readyAt = wallNow();
  const appliedHere = (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
  emit('ready', {
    name,
    startedAt,
    readyAt,
    appliedHere,
    lockWaitMs: null,
    lock: {},
    migrations: error ? 'failed' : appliedHere.length > 0 ? 'applied' : 'up-to-date',
    error: error ? String(error instanceof Error ? error.message : error) : undefined,
    ...counted(counts),
  });
  await db.destroy();
}
