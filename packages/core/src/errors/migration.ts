import { describeThrown, MigError, MigErrorCode, type MigErrorOptions, sentence } from './base.js';

export type MigrationDirection = 'up' | 'down';

/** A migration's `up` or `down` threw. Says whether its changes were rolled back. */
export class MigrationFailedError extends MigError {
  readonly migration: string;
  readonly direction: MigrationDirection;
  /** What the caller added of the aftermath (see the constructor), when it added anything. */
  readonly note: string | undefined;

  /**
   * `note` adds what the caller knows of the aftermath, e.g. which statements of a migration that could
   * not run atomically had already taken effect, or what a failed index build left behind. `next` says what
   * to do; by default, fix the migration (not when the migration is not at fault: see `sessionEnded`).
   */
  constructor(
    migration: string,
    direction: MigrationDirection,
    cause: unknown,
    transactional: boolean,
    note?: string | undefined,
    next = 'Fix the migration and run again.',
  ) {
    const verb = direction === 'up' ? 'apply' : 'revert';
    // A file that opened its own transaction had it rolled back by the source's runner, which marks the error.
    const ownRolledBack =
      cause !== null &&
      typeof cause === 'object' &&
      typeof (cause as { migRolledBack?: unknown }).migRolledBack === 'number';
    const aftermath = transactional
      ? 'Its changes and its record were rolled back'
      : ownRolledBack
        ? 'It failed inside the transaction it opened itself, which was rolled back: none of that transaction took effect'
        : 'It ran outside a transaction, so statements that completed before the failure remain';
    // Where in its file the statement that failed is, when the store's runner found it (the driver's error
    // carries it, so every place that wraps that error says it).
    const located = (cause as { migStatement?: unknown } | null)?.migStatement;
    const notes = [typeof located === 'string' ? located : undefined, note].filter((n) => n !== undefined && n !== '');
    super(
      MigErrorCode.MigrationFailed,
      `Failed to ${verb} migration "${migration}": ${sentence(describeThrown(cause))} ${aftermath}.` +
        `${notes.map((n) => ` ${sentence(n as string)}`).join('')} ${next}`,
      { cause, context: { migration, direction, transactional } },
    );
    this.name = 'MigrationFailedError';
    this.migration = migration;
    this.direction = direction;
    this.note = note;
  }

  /**
   * The migration's database session was ended from outside while it ran (an operator's
   * pg_terminate_backend or KILL, a failover, a restart): the migration is not at fault, and running it again
   * is what to do.
   */
  static sessionEnded(
    migration: string,
    direction: MigrationDirection,
    cause: unknown,
    transactional: boolean,
    note?: string | undefined,
  ): MigrationFailedError {
    return new MigrationFailedError(
      migration,
      direction,
      cause,
      transactional,
      note,
      'The database session running it was ended from outside (an operator ending it, a failover, a restart), ' +
        'not by the migration: run again.',
    );
  }
}

/** The migration source is unusable: a missing folder, duplicate names, a module without `up`. */
export class MigrationSourceError extends MigError {
  constructor(message: string, options: MigErrorOptions = {}) {
    super(MigErrorCode.InvalidSource, message, options);
    this.name = 'MigrationSourceError';
  }
}

export type MigrationProblem =
  | {
      /** An applied migration's content changed since it was applied. */
      readonly kind: 'changed';
      readonly name: string;
      readonly appliedChecksum: string;
      readonly localChecksum: string;
    }
  | {
      /** An applied migration has no local counterpart (file deleted or renamed). */
      readonly kind: 'missing';
      readonly name: string;
    }
  | {
      /** A local migration that was never applied sorts before the latest applied one. */
      readonly kind: 'out-of-order';
      readonly name: string;
      readonly latestApplied: string;
    };

export function describeProblem(problem: MigrationProblem): string {
  switch (problem.kind) {
    case 'changed':
      return `"${problem.name}" was changed after it was applied (checksum ${problem.appliedChecksum.slice(0, 12)} applied, ${problem.localChecksum.slice(0, 12)} now); restore the original and put the change in a new migration`;
    case 'missing':
      return `"${problem.name}" was applied but is no longer among the local migrations; restore it (or revert it on the database first)`;
    case 'out-of-order':
      return `"${problem.name}" is not applied but sorts before the applied "${problem.latestApplied}"; rename it so it sorts after "${problem.latestApplied}"`;
  }
}

/** Applied migrations disagree with the local ones; `problems` lists each case. Nothing was applied. */
export class MigrationDriftError extends MigError {
  readonly problems: readonly MigrationProblem[];

  constructor(problems: readonly MigrationProblem[]) {
    const lines = problems.map((p) => `  - ${describeProblem(p)}`).join('\n');
    super(MigErrorCode.Drift, `The applied migrations do not match the local ones; nothing was applied:\n${lines}`, {
      context: { problems: problems.map((p) => `${p.kind}:${p.name}`) },
    });
    this.name = 'MigrationDriftError';
    this.problems = problems;
  }
}
