import type { MigrationProblem } from './errors.js';
import type { StoreHead } from './head.js';
import { compareInOrder, type Migration, prefixDigests } from './migration.js';
import type { AppliedMigration } from './ports.js';

/** What is applied, what is pending and what disagrees, from the local migrations and the store's records. */
export interface MigrationPlan<Db = unknown> {
  /** Names of applied migrations, in the order they were applied. */
  readonly applied: readonly string[];
  /** Local migrations not applied yet, in the order they run (empty while there are problems of order). */
  readonly pending: readonly Migration<Db>[];
  readonly problems: readonly MigrationProblem[];
  /**
   * Applied migrations this code does not have, all sorting after its last one: a newer deploy migrated
   * ahead (a rolling deploy, a rollback). Not drift: this version's schema is still in place.
   */
  readonly ahead: readonly string[];
}

/** Compares the local migrations (in the order they run) with the applied records (in applied order). */
export function planMigrations<Db>(
  available: readonly Migration<Db>[],
  applied: readonly Pick<AppliedMigration, 'name' | 'checksum'>[],
): MigrationPlan<Db> {
  const local = new Map(available.map((m) => [m.name, m]));
  const appliedNames = new Set<string>();
  const problems: MigrationProblem[] = [];
  const ahead: string[] = [];
  const lastLocal = available.at(-1)?.name;
  const compareNames = compareInOrder(available);
  let latestApplied: string | undefined;

  for (const record of applied) {
    appliedNames.add(record.name);
    if (latestApplied === undefined || compareNames(record.name, latestApplied) > 0) latestApplied = record.name;
    const m = local.get(record.name);
    if (!m && lastLocal !== undefined && compareNames(record.name, lastLocal) > 0) {
      ahead.push(record.name);
    } else if (!m) {
      problems.push({ kind: 'missing', name: record.name });
    } else if (m.checksum !== record.checksum) {
      problems.push({
        kind: 'changed',
        name: record.name,
        appliedChecksum: record.checksum,
        localChecksum: m.checksum,
      });
    }
  }

  const pending: Migration<Db>[] = [];
  for (const m of available) {
    if (appliedNames.has(m.name)) continue;
    if (latestApplied !== undefined && compareNames(m.name, latestApplied) < 0) {
      problems.push({ kind: 'out-of-order', name: m.name, latestApplied });
    } else {
      pending.push(m);
    }
  }

  return { applied: applied.map((r) => r.name), pending, problems, ahead };
}

/**
 * The local side of the constant-cost status check: the head digest expected after each prefix of the
 * local migrations. When the store's head equals `digests[head.count]`, the applied history is exactly the
 * first `head.count` local migrations, unchanged, and the rest are pending; no record needs to be read.
 */
export class LocalHistory<Db = unknown> {
  readonly migrations: readonly Migration<Db>[];
  readonly #digests: readonly string[];

  constructor(migrations: readonly Migration<Db>[]) {
    this.migrations = migrations;
    this.#digests = prefixDigests(migrations);
  }

  /** The digest of the whole local set: part of cache keys, so a new deploy never reads an old status. */
  get digest(): string {
    return this.#digests[this.#digests.length - 1] as string;
  }

  /** The pending migrations when `head` matches a prefix of the local history; undefined otherwise. */
  pendingAfter(head: StoreHead): readonly Migration<Db>[] | undefined {
    if (!Number.isInteger(head.count) || head.count < 0 || head.count >= this.#digests.length) return undefined;
    return this.#digests[head.count] === head.digest ? this.migrations.slice(head.count) : undefined;
  }
}
