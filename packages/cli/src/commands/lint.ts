import type { ResolvedConfig } from '@mig/config';
import { InvalidOptionError } from '@mig/core';
import {
  createFolderSource,
  createMigrationLinter,
  formatFinding,
  LINTED_ENGINES,
  type MigrationLint,
  unaccepted,
} from '@mig/kysely-adapter';
import { ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';

/**
 * `mig lint`: each migration of the folder through the engine's rules, with no database. SQL migrations are
 * parsed as written; code migrations through the SQL their dry run captures. Exits 6 when a finding is left
 * that no `-- mig:allow <rule>: <why>` accepts.
 */
export async function lint(config: ResolvedConfig, output: Output): Promise<number> {
  const linter = createMigrationLinter({ url: config.values.databaseUrl });
  if (linter === undefined) {
    throw new InvalidOptionError(
      'url',
      `mig lint has rules for ${LINTED_ENGINES.join(', ')}; this database URL names an engine without them: lint against the URL of one of those, or none (PostgreSQL's rules).`,
    );
  }
  const migrations = await createFolderSource(config.values.migrationsDir).load();
  const results: MigrationLint[] = [];
  for (const migration of migrations) results.push(await linter.lint(migration));
  const open = results.flatMap((r) => unaccepted(r).map((f) => ({ lint: r, finding: f })));
  const accepted = results.reduce((n, r) => n + r.findings.length, 0) - open.length;
  const exitCode = open.length > 0 ? ExitCode.LintFindings : ExitCode.Ok;
  const { color } = output;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      engine: linter.engine,
      migrations: results.length,
      findings: results
        .filter((r) => r.findings.length > 0)
        .map((r) => ({ name: r.name, origin: r.origin, from: r.from, findings: r.findings })),
      unaccepted: open.length,
      accepted,
    },
    () => {
      const lines = results.flatMap((r) =>
        r.findings.map((f) =>
          f.accepted === undefined ? `${color.red('✗')} ${formatFinding(r, f)}` : color.dim(`  ${formatFinding(r, f)}`),
        ),
      );
      const summary =
        open.length === 0
          ? `${color.green('✓')} ${results.length} migration(s) checked: nothing left to fix${accepted > 0 ? ` (${accepted} accepted)` : ''}`
          : color.red(
              `${open.length} finding(s) in ${new Set(open.map((o) => o.lint.name)).size} migration(s); fix them, or accept one with -- mig:allow <rule>: <why>`,
            );
      return [...lines, summary].join('\n');
    },
  );
  return exitCode;
}
