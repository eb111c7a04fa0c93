import { describeHolder } from '@mig/core/adapter';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';

/** `mig unlock`: who holds the lease lock (and the advisory lock); `--force` ends the lease. */
export async function unlock(ctx: CommandContext, output: Output, force: boolean): Promise<number> {
  const [lease, advisory, advisoryNote] = await Promise.all([
    ctx.adapter.leaseHolder(),
    ctx.adapter.advisoryHolder(),
    ctx.adapter.advisoryNote(),
  ]);
  const cleared = force && lease ? await ctx.adapter.forceReleaseLease() : null;
  const stop = advisory ? await ctx.adapter.stopHolderStatement(advisory) : undefined;
  output.result(
    {
      ok: true,
      exitCode: ExitCode.Ok,
      database: ctx.where,
      lease: { holder: lease, cleared: cleared !== null, clearedHolder: cleared },
      advisory: { holder: advisory, note: advisoryNote },
    },
    () => {
      const lines: string[] = [];
      if (!lease) lines.push('Lease lock: free.');
      else if (cleared) lines.push(`Lease lock: cleared; it was held by ${describeHolder(cleared)}.`);
      else {
        lines.push(
          `Lease lock: held by ${describeHolder(lease)}.`,
          'It expires by itself if its holder stops renewing it. To end it now: mig unlock --force',
        );
      }
      lines.push(
        advisory ? `Advisory lock: held by ${describeHolder(advisory)}.` : 'Advisory lock: free.',
        advisoryNote,
      );
      if (stop !== undefined) lines.push(`To end that session anyway: ${stop}`);
      return lines.join('\n');
    },
  );
  return ExitCode.Ok;
}
