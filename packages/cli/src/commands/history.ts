import { adviceFor } from '@mig/config';
import type { HistoryChange, HistoryResult, RunProgress } from '@mig/core';
import { type ForeignTool, readForeignHistory } from '@mig/kysely-adapter';
import type { CommandContext } from '../context.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import type { Io, Output } from '../output.js';
import { lockWaitReporter } from './run.js';

export interface HistoryFlags {
  readonly dryRun?: boolean | undefined;
}

export interface AdoptFlags extends HistoryFlags {
  readonly from: ForeignTool;
  /** The tool's history table and schema, when renamed. */
  readonly table?: string | undefined;
  readonly schema?: string | undefined;
}

/** `mig adopt --from <tool>`: another tool's applied migrations recorded as mig's, running nothing. */
export async function adopt(ctx: CommandContext, output: Output, flags: AdoptFlags): Promise<number> {
  const history = await readForeignHistory(ctx.db, flags.from, {
    table: flags.table,
    schema: flags.schema,
    migrationsDir: ctx.config.values.migrationsDir,
  });
  if (!history) {
    const table = flags.table ?? 'its default table';
    output.result(
      { ok: false, exitCode: ExitCode.Usage, database: ctx.where, operation: 'adopt', from: flags.from },
      () => `There is no ${flags.from} history in ${ctx.where} (looked for ${table}); nothing was recorded.`,
    );
    return ExitCode.Usage;
  }
  const result = await ctx.migrator.adopt({ history, dryRun: flags.dryRun, onProgress: onProgress(output) });
  const source = `${history.tool}'s history (${history.table})`;
  return report(ctx, output, result, { from: history.tool, table: history.table, runnable: history.runnable }, () => {
    const names = records(result.changes);
    if (result.dryRun) {
      return names.length === 0
        ? `Nothing to adopt: mig already records every migration in ${source}.`
        : `Dry run: would record ${count(names.length)} from ${source} as applied, running nothing; nothing was written.`;
    }
    if (names.length === 0) return `Nothing to adopt: mig already records every migration in ${source}.`;
    const note = history.runnable
      ? ''
      : ` Their files are written for ${history.tool}: mig checks them for changes but never runs them (new migrations are written for mig).`;
    return `Adopted ${count(names.length)} from ${source}: recorded as applied, nothing ran, and ${history.table} is as it was.${note}`;
  });
}

/** `mig baseline --to <name>`: migrations up to `name` recorded as applied, running nothing. */
export async function baseline(
  ctx: CommandContext,
  output: Output,
  flags: HistoryFlags & { readonly to: string },
): Promise<number> {
  const result = await ctx.migrator.baseline({ to: flags.to, dryRun: flags.dryRun, onProgress: onProgress(output) });
  return report(ctx, output, result, { to: flags.to }, () => {
    const names = records(result.changes);
    if (names.length === 0) return `Nothing to do: mig already records this baseline (up to "${flags.to}").`;
    return result.dryRun
      ? `Dry run: would record ${count(names.length)} up to "${flags.to}" as applied, running nothing; nothing was written.`
      : `Baselined: ${count(names.length)} up to "${flags.to}" recorded as applied; nothing ran.`;
  });
}

/** `mig repair`: the recorded checksums of intentionally edited applied migrations, updated; or one record forgotten. */
export async function repair(
  ctx: CommandContext,
  output: Output,
  io: Io,
  flags: HistoryFlags & { readonly yes?: boolean | undefined; readonly forget?: string | undefined },
): Promise<number> {
  if (!flags.dryRun && !flags.yes) {
    const preview = await ctx.migrator.repair({ dryRun: true, forget: flags.forget });
    if (preview.error === undefined && preview.changes.length > 0) {
      const confirmed = await confirm(io, output, preview.changes);
      if (confirmed !== true) {
        output.result(
          { ok: false, exitCode: ExitCode.Usage, database: ctx.where, operation: 'repair', changes: preview.changes },
          () =>
            confirmed === 'not-a-terminal'
              ? 'repair rewrites recorded checksums: confirm it from a terminal, or pass --yes (see them first with --dry-run). Nothing was changed.'
              : 'Not confirmed; nothing was changed.',
        );
        return ExitCode.Usage;
      }
    }
  }
  const result = await ctx.migrator.repair({
    dryRun: flags.dryRun,
    forget: flags.forget,
    onProgress: onProgress(output),
  });
  return report(ctx, output, result, { forget: flags.forget }, () => {
    if (result.changes.length === 0) return 'Nothing to repair: every applied migration matches its file.';
    const lines = result.changes.map((c) => `  ${describeChange(c)}`);
    const verb = result.dryRun ? 'Dry run: would change' : 'Repaired:';
    const tail = result.dryRun ? ' Nothing was written.' : ' The replaced checksums are kept in each record.';
    return `${verb} ${result.changes.length} record(s).${tail}\n${lines.join('\n')}`;
  });
}

/** The result document and text of an adopt, baseline or repair; returns the exit code. */
function report(
  ctx: CommandContext,
  output: Output,
  result: HistoryResult,
  extra: Record<string, unknown>,
  done: () => string,
): number {
  const exitCode = result.error ? exitCodeFor(result.error) : ExitCode.Ok;
  const { color } = output;
  output.result(
    {
      ok: result.error === undefined,
      exitCode,
      database: ctx.where,
      operation: result.operation,
      dryRun: result.dryRun,
      ...extra,
      changes: result.changes,
      lockWaitMs: Math.round(result.lockWaitMs),
      state: result.status?.state,
      pending: result.status?.pending,
      error: result.error
        ? { code: result.error.code, message: result.error.message, advice: adviceFor(result.error, ctx.config) }
        : undefined,
    },
    () => {
      if (!result.error) {
        const pending = result.status?.pending.length ?? 0;
        return pending > 0 ? `${done()}\n${pending} migration(s) pending: \`mig up\` applies them.` : done();
      }
      const advice = adviceFor(result.error, ctx.config);
      return [
        color.red(`error: ${result.error.message}`),
        ...(advice ? [`${color.yellow('hint:')} ${advice}`] : []),
      ].join('\n');
    },
  );
  return exitCode;
}

/** Asks on the terminal; `not-a-terminal` when there is none to ask. */
async function confirm(io: Io, output: Output, changes: readonly HistoryChange[]): Promise<boolean | 'not-a-terminal'> {
  const stdin = io.stdin;
  if (!stdin?.isTTY || output.json) return 'not-a-terminal';
  io.stderr.write(`repair would change ${changes.length} record(s):\n`);
  for (const c of changes) io.stderr.write(`  ${describeChange(c)}\n`);
  io.stderr.write('Go ahead? [y/N] ');
  const answer = await new Promise<string>((resolve) => {
    stdin.once('data', (chunk) => resolve(String(chunk)));
  });
  stdin.pause();
  return /^y(es)?$/i.test(answer.trim());
}

function describeChange(change: HistoryChange): string {
  switch (change.kind) {
    case 'record':
      return `record ${change.name} as applied`;
    case 'checksum':
      return `${change.name}: checksum ${change.from.slice(0, 12)} → ${change.to.slice(0, 12)} (the file as it is now)`;
    case 'forget':
      return `${change.name}: record removed (its file is gone)`;
  }
}

function records(changes: readonly HistoryChange[]): string[] {
  return changes.flatMap((c) => (c.kind === 'record' ? [c.name] : []));
}

function count(n: number): string {
  return `${n} migration${n === 1 ? '' : 's'}`;
}

function onProgress(output: Output): (event: RunProgress) => void {
  const report = lockWaitReporter(output);
  return (event) => {
    if (event.type === 'lock-wait') report(event.wait);
  };
}
