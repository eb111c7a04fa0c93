import type { StoreHead } from '../head.js';
import { MigError, MigErrorCode, type MigErrorOptions } from './base.js';

/**
 * Another writer moved the store's head while this process applied: nothing was recorded for it. A store
 * throws it from the head compare-and-swap of `apply`, `revert`, `record` and `rewrite`, with the head the
 * caller expected and the one it found (null when it could not read it); the message says which differs,
 * the count or, at the same count, the digest (another history of the same length).
 *
 * @example
 * if (found.count !== expected.count || found.digest !== expected.digest) throw new MigrationConflictError(name, expected, found);
 */
export class MigrationConflictError extends MigError {
  readonly migration: string;
  readonly expected: StoreHead;
  readonly found: StoreHead | null;

  constructor(migration: string, expected: StoreHead, found: StoreHead | null) {
    super(
      MigErrorCode.Conflict,
      `The applied history changed while "${migration}" was being applied (${describeHeads(expected, found)}): ` +
        'another process migrated the same database without sharing this lock. Nothing was recorded for it; run again.',
      {
        context: {
          migration,
          expectedCount: expected.count,
          foundCount: found?.count ?? null,
          expectedDigest: expected.digest,
          foundDigest: found?.digest ?? null,
        },
      },
    );
    this.name = 'MigrationConflictError';
    this.migration = migration;
    this.expected = expected;
    this.found = found;
  }
}

/** What differs between two heads, for a conflict's message. */
function describeHeads(expected: StoreHead, found: StoreHead | null): string {
  if (found === null) return `expected ${expected.count} applied, and the head could not be read`;
  if (found.count !== expected.count) return `expected ${expected.count} applied, found ${found.count}`;
  return (
    `${expected.count} applied as expected, but another history: head digest ${found.digest.slice(0, 12)}, ` +
    `expected ${expected.digest.slice(0, 12)}`
  );
}

/**
 * A requested migration cannot be the target of the operation: no migration or record of that name, a
 * revert of a migration without a `down` (or applied by a newer version, or written for another tool).
 * Nothing was applied or reverted. `targets` names what was asked for.
 *
 * @example
 * if (!module.down) throw new InvalidTargetError(name, `Migration "${name}" has no down migration; nothing was reverted.`);
 */
export class InvalidTargetError extends MigError {
  readonly targets: readonly string[];

  /** `context` defaults to `{ migrations: targets }`. */
  constructor(targets: string | readonly string[], message: string, options: MigErrorOptions = {}) {
    const list = typeof targets === 'string' ? [targets] : [...targets];
    super(MigErrorCode.InvalidTarget, message, { ...options, context: options.context ?? { migrations: list } });
    this.name = 'InvalidTargetError';
    this.targets = Object.freeze(list);
  }
}

/**
 * Another tool's migration history and no mig records: mig refuses to apply migrations that tool may have
 * applied already. `histories` says which tool, where, and how many.
 */
export class ForeignHistoryError extends MigError {
  readonly histories: readonly { tool: string; table: string; applied: number }[];

  constructor(histories: readonly { tool: string; table: string; applied: number }[]) {
    const found = histories.map((h) => `${h.tool} (${h.applied} applied, in ${h.table})`).join(', ');
    super(
      MigErrorCode.ForeignHistory,
      `The database has the migration history of ${found} and no mig records: applying mig's migrations now ` +
        "would run them a second time. Adopt that history first (the migrator's adopt()), or baseline; nothing was applied.",
      { context: { tools: histories.map((h) => h.tool), tool: histories[0]?.tool } },
    );
    this.name = 'ForeignHistoryError';
    this.histories = histories;
  }
}

/** An adoption, baseline or repair that cannot go ahead: each case is named; nothing was recorded. */
export class HistoryMismatchError extends MigError {
  readonly cases: readonly string[];

  constructor(what: string, cases: readonly string[], context: Readonly<Record<string, unknown>> = {}) {
    super(MigErrorCode.HistoryMismatch, `${what}; nothing was recorded:\n${cases.map((c) => `  - ${c}`).join('\n')}`, {
      context: { ...context, cases: cases.length },
    });
    this.name = 'HistoryMismatchError';
    this.cases = cases;
  }
}
