import { MigError, MigErrorCode } from '@mig/core';
import type { ConfigSource } from './types.js';

/** One thing wrong with the configuration. */
export interface ConfigProblem {
  /**
   * What is wrong: an environment variable (`MIGRATION_LOCK_TIMEOUT`), a config file key (`lockTimeout`), an
   * override/flag key, or, for a file that cannot be read at all, the file's path (with `:line:column` when
   * the problem is a syntax error).
   */
  readonly key: string;
  readonly source: ConfigSource;
  /** The value received, secrets masked; `undefined` for unknown keys (their value may be a secret) and file-level problems. */
  readonly value: unknown;
  /** The value as shown, what is wrong and what is accepted: `"-5s" is not a duration; use milliseconds or ...`. */
  readonly message: string;
  /** The config file the problem is in, for problems that come from one. */
  readonly file?: string | undefined;
}

/** One line of a {@link ConfigError}'s message: where, then what. */
export function describeConfigProblem(problem: ConfigProblem): string {
  let where = problem.key;
  if (problem.source === 'flag') where += ' (flag)';
  else if (problem.file !== undefined && problem.key !== problem.file && !problem.key.startsWith(`${problem.file}:`)) {
    where += ` in ${problem.file}`;
  }
  return `${where}: ${problem.message}`;
}

/**
 * The configuration is invalid: a {@link MigError} with code `CONFIG_INVALID` (`MigErrorCode.InvalidConfig`),
 * so one check (`isMigError`) covers it and every other mig error. Every problem found is listed, each on its
 * own line, so one run shows everything to fix. Messages never contain a password.
 *
 * @example
 * ```ts
 * try {
 *   config = await loadConfig();
 * } catch (error) {
 *   if (error instanceof ConfigError) {
 *     console.error(error.message); // Invalid mig configuration (1 problem):\n  MIGRATION_LOCK_TIMEOUT: "-5s" is not ...
 *     process.exit(2);
 *   }
 *   throw error;
 * }
 * ```
 */
export class ConfigError extends MigError {
  declare readonly code: typeof MigErrorCode.InvalidConfig;
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
    const lines = problems.map((problem) => `  ${describeConfigProblem(problem)}`).join('\n');
    super(
      MigErrorCode.InvalidConfig,
      `Invalid mig configuration (${count}):\n${lines}\n` +
        'Fix these in the environment, the config file or the command line, then start again.',
      // Where the problems are, never their values: a value can be a secret.
      { context: { keys: problems.map((problem) => problem.key) } },
    );
    this.name = 'ConfigError';
    this.problems = Object.freeze([...problems]);
  }
}
