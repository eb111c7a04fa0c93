import { MigErrorCode } from '@mig/core';
import { ENV } from './defaults.js';

// The libraries say what happened and stop there: they take plain options and know nothing of environment
// variables, flags or commands. This is where the edge turns an error's `code` and `context.reason` into
// advice naming the settings a person has. Only `code` and `context` are read, so any mig error from any
// copy of the packages (or a serialized one with its context) gets the same advice.

type Advise = (context: Readonly<Record<string, unknown>>) => string | undefined;

const { AUTO_MIGRATE, DATABASE_URL, MIGRATION_LOCK_STRATEGY, MIGRATION_LOCK_TIMEOUT, MIGRATIONS_DIR } = ENV;

const ADVICE: Partial<Record<MigErrorCode, Advise>> = {
  [MigErrorCode.Pending]: () =>
    `Apply them with \`mig up\` (for instance as a deploy step), or set ${AUTO_MIGRATE}=true to apply them on first use.`,
  [MigErrorCode.ConnectFailed]: () => `Check ${DATABASE_URL} (or --url): host, port, database name and credentials.`,
  [MigErrorCode.LockTimeout]: () =>
    `If another instance is migrating, let it finish, or raise ${MIGRATION_LOCK_TIMEOUT} (or --lock-timeout); ` +
    '`mig unlock` shows who holds the lock.',
  [MigErrorCode.LockLost]: ({ reason }) => {
    if (reason === 'session-not-holder') {
      return (
        'The connection goes through a transaction pooler (such as PgBouncer in transaction mode), which does not ' +
        `keep a session's lock: set ${MIGRATION_LOCK_STRATEGY}=lease (or --lock-strategy lease).`
      );
    }
    if (reason === 'expired') {
      return 'The lease was not renewed in time (a blocked process or a slow database): raise leaseTtl in the config file if that can happen.';
    }
    return undefined;
  },
  [MigErrorCode.InvalidSource]: ({ reason }) => {
    if (reason === 'missing-folder' || reason === 'not-a-folder') {
      return `Point ${MIGRATIONS_DIR} (or --migrations, or migrationsDir in the config file) at the folder of migration files.`;
    }
    if (reason === 'unreadable-folder') return `Check that this user may read the folder ${MIGRATIONS_DIR} points at.`;
    if (reason === 'empty-folder') {
      return `Create the first migration with \`mig create NAME\`, or point ${MIGRATIONS_DIR} at the folder that has them.`;
    }
    return undefined;
  },
  [MigErrorCode.ForeignHistory]: ({ tool }) =>
    `Adopt that history with \`mig adopt --from ${typeof tool === 'string' ? tool : '<tool>'}\` (it records, runs nothing; try --dry-run first), ` +
    'or, for a schema made by other means, `mig baseline --to NAME`.',
  [MigErrorCode.HistoryMismatch]: () =>
    'Each case above says what to change; then run the command again (--dry-run shows what it would record).',
  [MigErrorCode.Drift]: () =>
    '`mig status` lists what differs, and `mig verify` checks every applied migration against the files.',
};

/**
 * Advice for a mig error that names the settings to change (`MIGRATIONS_DIR`, `--lock-timeout`, `mig up`),
 * or `undefined` when there is none beyond the error's own message (and for anything that is not a mig
 * error). Show it after the message, once.
 *
 * @example
 * ```ts
 * } catch (error) {
 *   console.error(`error: ${describe(error)}`);
 *   const advice = adviceFor(error);
 *   if (advice) console.error(`hint: ${advice}`);
 * }
 * ```
 */
export function adviceFor(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, context } = error as { code?: unknown; context?: unknown };
  if (typeof code !== 'string' || !Object.hasOwn(ADVICE, code)) return undefined;
  const details = typeof context === 'object' && context !== null ? (context as Record<string, unknown>) : {};
  return ADVICE[code as MigErrorCode]?.(details);
}
