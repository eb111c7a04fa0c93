import { type Logger, MigError, MigErrorCode, type Migration, type MigrationSource } from '@mig/core';
import { describeThrown } from '@mig/core/adapter';
import {
  formatFinding,
  type LintFinding,
  type MigrationDb,
  type MigrationLinter,
  unaccepted,
} from '@mig/kysely-adapter';

/** What lint findings do to a migration about to be applied: it is refused, or applied with a warning. */
export type LintAction = 'refuse' | 'warn';

/**
 * The migration source with each SQL migration linted as it is loaded to be applied (only the pending ones are
 * loaded, and only when they are about to run): a finding no `-- mig:allow` accepts refuses the migration, or
 * is logged. The parser is loaded on the first such migration; a service with nothing pending loads none of it.
 * A code migration is not linted here: its SQL is known only by running its `up` against a capturing Kysely
 * (as `mig lint` does), and at apply time that would run the user's code one more time, before the migration
 * itself (a migration that sleeps, exits or calls out would do so twice). `mig lint` covers it.
 */
export function guardSource(
  source: MigrationSource<MigrationDb>,
  options: { readonly linter: MigrationLinter; readonly action: LintAction; readonly logger: Logger },
): MigrationSource<MigrationDb> {
  return {
    description: source.description,
    // What the source says of itself once loaded (its layout), read through.
    get layout() {
      return source.layout;
    },
    load: async () => (await source.load()).map((m) => (m.sql === undefined ? m : guarded(m, options))),
  };
}

function guarded(
  migration: Migration<MigrationDb>,
  options: { readonly linter: MigrationLinter; readonly action: LintAction; readonly logger: Logger },
): Migration<MigrationDb> {
  let checked: Promise<void> | undefined;
  const check = async () => {
    const lint = await options.linter.lint(migration).catch((error: unknown) => {
      options.logger.warn(
        { migration: migration.name, err: describeThrown(error) },
        `mig could not lint migration ${migration.name}; it is applied unchecked`,
      );
      return undefined;
    });
    const open = lint === undefined ? [] : unaccepted(lint);
    if (open.length === 0) return;
    if (options.action === 'refuse') throw lintRefused(migration.name, open);
    for (const finding of open) {
      options.logger.warn(
        { migration: migration.name, rule: finding.rule, line: finding.line },
        `lint: ${formatFinding(migration, finding)}`,
      );
    }
  };
  return {
    name: migration.name,
    checksum: migration.checksum,
    origin: migration.origin,
    sql: migration.sql,
    transaction: migration.transaction,
    load: async () => {
      checked ??= check();
      await checked;
      return migration.load();
    },
  };
}

/** The refusal: the migration, each rule with its line, reason and fix, and how to accept one. */
export function lintRefused(name: string, findings: readonly LintFinding[]): MigError {
  const listed = findings.map((f) => `${f.rule} (line ${f.line}: ${f.statement}): ${f.reason}. Fix: ${f.fix}`);
  return new MigError(
    MigErrorCode.LintRefused,
    `Migration "${name}" was refused: it would lock or rewrite a table in production. ${listed.join('; ')}. ` +
      `Rewrite it, or accept a finding in the file with -- mig:allow <rule>: <why> (or set lint: 'warn').`,
    { context: { migration: name, rules: findings.map((f) => f.rule) } },
  );
}
