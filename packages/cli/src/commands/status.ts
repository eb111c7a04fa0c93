import type { AppliedMigration, MigrationInspection } from '@mig/core';
import { describeProblem, type ForeignHistorySummary } from '@mig/core/adapter';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatMs, type Output, table } from '../output.js';

export interface StatusFlags {
  readonly failOnPending?: boolean | undefined;
}

/** `mig status`: applied (when, how long, how recorded), pending, changed, missing, out of order. */
export async function status(ctx: CommandContext, output: Output, flags: StatusFlags): Promise<number> {
  const inspection = await ctx.migrator.inspect();
  const { status, applied, local } = inspection;
  // No mig records yet: another tool may have migrated this database; say so before anyone runs `mig up`.
  const foreign = applied.length === 0 && status.pending.length > 0 ? await ctx.migrator.foreignHistories() : [];
  const own = new Set(local.filter((m) => m.transaction === 'own').map((m) => m.name));
  const exitCode =
    status.problems.length > 0
      ? ExitCode.VerifyFailed
      : flags.failOnPending && status.pending.length > 0
        ? ExitCode.Pending
        : ExitCode.Ok;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      database: ctx.where,
      migrationsDir: ctx.config.values.migrationsDir,
      layout: ctx.source?.layout,
      notices: ctx.source?.notices?.length ? ctx.source.notices : undefined,
      state: status.state,
      applied: applied.map((m) => ({
        name: m.name,
        appliedAt: m.appliedAt.toISOString(),
        durationMs: m.durationMs,
        transactional: own.has(m.name) ? ('own' as const) : m.transactional,
        checksum: m.checksum,
        origin: m.origin,
        adoptedFrom: m.adoptedFrom ?? undefined,
        repairs: m.repairs.length > 0 ? m.repairs : undefined,
      })),
      pending: status.pending,
      // How each pending migration runs, where it is not mig's own transaction: "own" (its BEGIN … COMMIT).
      pendingTransactions: Object.fromEntries(status.pending.filter((n) => own.has(n)).map((n) => [n, 'own' as const])),
      problems: status.problems,
      ahead: status.ahead,
      foreignHistories: foreign,
      leftovers: inspection.leftovers,
      local: local.length,
    },
    () => human(ctx, output, inspection, foreign),
  );
  return exitCode;
}

function human(
  ctx: CommandContext,
  output: Output,
  { status, applied, leftovers }: MigrationInspection,
  foreign: readonly ForeignHistorySummary[],
): string {
  const { color } = output;
  const lines = [
    `${color.bold('Database')}    ${ctx.where}`,
    `${color.bold('Migrations')}  ${ctx.config.values.migrationsDir}${layoutNote(ctx.source?.layout)}`,
    ...(ctx.source?.notices ?? []).map((n) => `  ${color.yellow('!')} ${n}`),
    '',
    color.bold(`Applied (${applied.length})`),
  ];
  if (applied.length > 0) lines.push(table(applied.map((m) => appliedRow(output, m))));
  lines.push('', color.bold(`Pending (${status.pending.length})`));
  for (const name of status.pending) lines.push(`  ${color.yellow('•')} ${name}`);
  if (status.ahead.length > 0) {
    lines.push('', color.bold(color.yellow(`Applied by a newer version (${status.ahead.length})`)));
    for (const name of status.ahead) lines.push(`  ${color.yellow('↑')} ${name}`);
  }
  if (status.problems.length > 0) {
    lines.push('', color.bold(color.red(`Problems (${status.problems.length})`)));
    for (const p of status.problems) lines.push(`  ${color.red('✗')} ${p.kind}: ${describeProblem(p)}`);
  }
  if (leftovers.length > 0) {
    lines.push('', color.bold(color.yellow(`Left behind by a failed run (${leftovers.length})`)));
    for (const l of leftovers) {
      lines.push(
        l.removedOnRerun
          ? `  ${color.yellow('!')} ${l.kind} ${l.object}, from ${l.migration}: dropped when ${l.migration} runs again (or now: ${l.remove};)`
          : `  ${color.yellow('!')} ${l.kind} of ${l.migration}: ${l.object}; ${l.remove} before it runs again`,
      );
    }
  }
  for (const f of foreign) {
    lines.push(
      '',
      color.yellow(
        `${f.tool} has applied ${f.applied} migration(s) here (${f.table}) and mig has no records: adopt that history with \`mig adopt --from ${f.tool}\` before \`mig up\`, which would run them again.`,
      ),
    );
  }
  const summary =
    status.state === 'up-to-date'
      ? color.green('up to date')
      : status.state === 'pending'
        ? color.yellow(`${status.pending.length} pending`)
        : color.red('drifted: applied migrations do not match the files (run `mig verify`)');
  lines.push('', `${color.bold('Status')}  ${summary}`);
  return lines.join('\n');
}

/** ✓, name, when, how long, and how it was recorded when mig did not run it. */
function appliedRow(output: Output, m: AppliedMigration): string[] {
  const how =
    m.origin === 'adopted'
      ? `adopted from ${m.adoptedFrom ?? 'another tool'}`
      : m.origin === 'baseline'
        ? 'baseline'
        : m.durationMs === null
          ? ''
          : formatMs(m.durationMs);
  const repaired = m.repairs.length > 0 ? ` (repaired ${m.repairs.length}×)` : '';
  return [output.color.green('✓'), m.name, m.appliedAt.toISOString().replace('T', ' ').slice(0, 19), how + repaired];
}

/** " (read as Prisma's layout)": said for every layout but mig's own. */
function layoutNote(layout: string | undefined): string {
  if (layout === undefined || layout === 'mig') return '';
  const names: Record<string, string> = {
    prisma: 'Prisma',
    drizzle: 'Drizzle, by meta/_journal.json',
    'drizzle-folders': 'drizzle-kit 1.0 folders',
    'golang-migrate': 'golang-migrate',
    diesel: 'diesel',
    goose: 'goose',
    dbmate: 'dbmate',
    flyway: 'Flyway, by version',
  };
  return ` (read as ${names[layout] ?? layout} layout)`;
}
