import { describeProblem } from '@mig/core/adapter';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';

/** `mig verify`: checksums and order of the applied migrations against the files. */
export async function verify(ctx: CommandContext, output: Output): Promise<number> {
  const { status, applied } = await ctx.migrator.inspect();
  // Here a database ahead of the files fails too: verify asks whether the database matches these files.
  const problems = [
    ...status.problems.map((p) => ({ ...p, message: describeProblem(p) })),
    ...status.ahead.map((name) => ({
      kind: 'ahead' as const,
      name,
      message: `"${name}" was applied by a newer version of the code; these files do not have it`,
    })),
  ];
  const exitCode =
    problems.length > 0 ? ExitCode.VerifyFailed : status.pending.length > 0 ? ExitCode.Pending : ExitCode.Ok;
  const { color } = output;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      database: ctx.where,
      verified: applied.length,
      pending: status.pending,
      problems,
    },
    () => {
      if (problems.length > 0) {
        return [
          color.red(`Verification failed: ${problems.length} problem(s) in ${ctx.where}`),
          ...problems.map((p) => `  ${color.red('✗')} ${p.kind}: ${p.message}`),
        ].join('\n');
      }
      const verified = `${color.green('✓')} ${applied.length} applied migration(s) match the files (checksums and order)`;
      if (status.pending.length === 0) return verified;
      return [
        verified,
        color.yellow(`${status.pending.length} migration(s) not applied yet: ${status.pending.join(', ')}`),
        'Apply them with `mig up`.',
      ].join('\n');
    },
  );
  return exitCode;
}
