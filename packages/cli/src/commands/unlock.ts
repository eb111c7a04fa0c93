import { describeHolder } from '@mig/core';
import type { Engine } from '@mig/kysely-adapter';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';

/** What the advisory (session) lock is on each engine, for `mig unlock`. */
const ADVISORY_NOTES: Readonly<Record<Engine, string>> = {
  postgres:
    'Advisory locks need no unlock: PostgreSQL releases them the moment the holding session ends (a crashed ' +
    'holder included).',
  mysql:
    'The advisory lock (GET_LOCK) needs no unlock: the server releases it the moment the holding session ends ' +
    '(a crashed holder included).',
  pglite: 'PGlite has no advisory lock: one process owns its data directory, and mig locks within it.',
  sqlite:
    'SQLite has no advisory lock: mig always uses the lease there, and the file locks of a killed process end ' +
    'with it.',
};

/** `mig unlock`: who holds the lease lock (and the advisory lock); `--force` ends the lease. */
export async function unlock(ctx: CommandContext, output: Output, force: boolean): Promise<number> {
  const [lease, advisory] = await Promise.all([ctx.adapter.leaseHolder(), ctx.adapter.advisoryHolder()]);
  const cleared = force && lease ? await ctx.adapter.forceReleaseLease() : null;
  const advisoryNote = ADVISORY_NOTES[ctx.adapter.engine];
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
      if (advisory?.pid !== undefined) {
        const end =
          ctx.adapter.engine === 'mysql' ? `kill ${advisory.pid};` : `select pg_terminate_backend(${advisory.pid});`;
        lines.push(`To end that session anyway: ${end}`);
      }
      return lines.join('\n');
    },
  );
  return ExitCode.Ok;
}
