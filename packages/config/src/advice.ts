import { basename } from 'node:path';
import { MigErrorCode } from '@mig/core';
import { ENV } from './defaults.js';
import type { ResolvedConfig } from './types.js';

// The libraries say what happened and stop there: they take plain options and know nothing of environment
// variables, flags or commands. This is where the edge turns an error's `code` and `context.reason` into
// advice naming the settings a person has. Only `code` and `context` are read, so any mig error from any
// copy of the packages (or a serialized one with its context) gets the same advice.

type Key = keyof typeof NAMES;

/**
 * Names a setting as the person set it (the config file's key where the file set it, the flag where a flag
 * did, else the variable), and says how to set it to a value the same way.
 */
interface Name {
  (key: Key): string;
  set(key: Key, value: string): string;
}

type Advise = (context: Readonly<Record<string, unknown>>, name: Name) => string | undefined;

/** The settings advice names: their environment variable, their key in a config file, and their flag. */
const NAMES = {
  autoMigrate: { env: ENV.AUTO_MIGRATE, input: 'autoMigrate', flag: undefined },
  databaseUrl: { env: ENV.DATABASE_URL, input: 'databaseUrl', flag: '--url' },
  lockTimeoutMs: { env: ENV.MIGRATION_LOCK_TIMEOUT, input: 'lockTimeout', flag: '--lock-timeout' },
  lockStrategy: { env: ENV.MIGRATION_LOCK_STRATEGY, input: 'lockStrategy', flag: '--lock-strategy' },
  migrationsDir: { env: ENV.MIGRATIONS_DIR, input: 'migrationsDir', flag: '--migrations' },
  migrationTimeoutMs: { env: ENV.MIGRATION_TIMEOUT, input: 'migrationTimeout', flag: '--migration-timeout' },
  ddlLockTimeoutMs: { env: ENV.MIGRATION_DDL_LOCK_TIMEOUT, input: 'ddlLockTimeout', flag: undefined },
  statementTimeoutMs: { env: ENV.MIGRATION_STATEMENT_TIMEOUT, input: 'statementTimeout', flag: undefined },
} as const;

/** Where the configuration's values came from, when the caller has it (see {@link adviceFor}). */
export type AdviceConfig = Pick<ResolvedConfig, 'sources' | 'file'>;

function namer(config: AdviceConfig | undefined): Name {
  const from = (key: Key) => {
    const source = config?.sources[key];
    if (source === 'file' && config?.file) return 'file';
    return source === 'flag' && NAMES[key].flag ? 'flag' : 'env';
  };
  const name = (key: Key) => {
    const { env, input, flag } = NAMES[key];
    const source = from(key);
    if (source === 'file') return `${input} in ${basename(config?.file ?? '')}`;
    if (source === 'flag') return flag as string;
    return flag ? `${env} (or ${flag})` : env;
  };
  name.set = (key: Key, value: string) => {
    const { env, input, flag } = NAMES[key];
    const source = from(key);
    if (source === 'file') return `${input}: '${value}' in ${basename(config?.file ?? '')}`;
    if (source === 'flag') return `${flag} ${value}`;
    return flag ? `${env}=${value} (or ${flag} ${value})` : `${env}=${value}`;
  };
  return name;
}

const ADVICE: Partial<Record<MigErrorCode, Advise>> = {
  [MigErrorCode.Pending]: (_, name) =>
    `Apply them with \`mig up\` (for instance as a deploy step), or set ${name.set('autoMigrate', 'true')} to apply them on first use.`,
  [MigErrorCode.ConnectFailed]: (_, name) => `Check ${name('databaseUrl')}: host, port, database name and credentials.`,
  [MigErrorCode.LockTimeout]: (_, name) =>
    `If another instance is migrating, let it finish, or raise ${name('lockTimeoutMs')}; ` +
    '`mig unlock` shows who holds the lock.',
  [MigErrorCode.MigrationTimeout]: (_, name) =>
    `If the migration needs longer, raise ${name('migrationTimeoutMs')}; if it waits for a lock another session ` +
    'holds, end that session first.',
  [MigErrorCode.LockLost]: ({ reason }, name) => {
    if (reason === 'session-not-holder') {
      return (
        'The connection goes through a transaction pooler (such as PgBouncer in transaction mode), which does not ' +
        `keep a session's lock: set ${name.set('lockStrategy', 'lease')}.`
      );
    }
    if (reason === 'expired') {
      return 'The lease was not renewed in time (a blocked process or a slow database): raise leaseTtl in the config file if that can happen.';
    }
    return undefined;
  },
  [MigErrorCode.InvalidSource]: ({ reason }, name) => {
    if (reason === 'missing-folder' || reason === 'not-a-folder') {
      return `Point ${name('migrationsDir')} at the folder of migration files.`;
    }
    if (reason === 'unreadable-folder')
      return `Check that this user may read the folder ${name('migrationsDir')} points at.`;
    if (reason === 'empty-folder') {
      return `Create the first migration with \`mig create NAME\`, or point ${name('migrationsDir')} at the folder that has them.`;
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
 * error). Show it after the message, once. With the configuration, each setting is named as it was set
 * (`databaseUrl in mig.config.json` when the file set it).
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
export function adviceFor(error: unknown, config?: AdviceConfig): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, context } = error as { code?: unknown; context?: unknown };
  if (typeof code !== 'string' || !Object.hasOwn(ADVICE, code)) return undefined;
  const details = typeof context === 'object' && context !== null ? (context as Record<string, unknown>) : {};
  return ADVICE[code as MigErrorCode]?.(details, namer(config));
}
