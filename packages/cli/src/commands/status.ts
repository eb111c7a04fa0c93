import { describeProblem } from '@mig/core';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import { formatMs, type Output, table } from '../output.js';

export interface StatusFlags {
  readonly failOnPending?: boolean | undefined;
}

/** `mig status`: applied (when, how long), pending, changed, missing, out of order. */
export async function status(ctx: CommandContext, output: Output, flags: StatusFlags): Promise<number> {
  const { status, applied, local } = await ctx.migrator.inspect();
  const exitCode =
    status.problems.length > 0
      ? ExitCode.VerifyFailed
      : flags.failOnPending && status.pending.length > 0
        ? ExitCode.Pending
        : ExitCode.Ok;
  const { color } = output;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      database: ctx.where,
      migrationsDir: ctx.config.values.migrationsDir,
      state: status.state,
      applied: applied.map((m) => ({
        name: m.name,
        appliedAt: m.appliedAt.toISOString(),
        durationMs: m.durationMs,
        transactional: m.transactional,
        checksum: m.checksum,
      })),
      pending: status.pending,
      problems: status.problems,
      ahead: status.ahead,
      local: local.length,
    },
    () => {
      const lines = [
        `${color.bold('Database')}    ${ctx.where}`,
        `${color.bold('Migrations')}  ${ctx.config.values.migrationsDir}`,
        '',
      ];
      lines.push(color.bold(`Applied (${applied.length})`));
      if (applied.length > 0) {
        lines.push(
          table(
            applied.map((m) => [
              color.green('✓'),
              m.name,
              m.appliedAt.toISOString().replace('T', ' ').slice(0, 19),
              m.durationMs === null ? '' : formatMs(m.durationMs),
            ]),
          ),
        );
      }
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
      const summary =
        status.state === 'up-to-date'
          ? color.green('up to date')
          : status.state === 'pending'
            ? color.yellow(`${status.pending.length} pending`)
            : color.red('drifted: applied migrations do not match the files (run `mig verify`)');
      lines.push('', `${color.bold('Status')}  ${summary}`);
      return lines.join('\n');
    },
  );
  return exitCode;
}
