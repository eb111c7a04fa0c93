import { adviceFor } from '@mig/config';
import { MigErrorCode, type MigrationRunResult, type RunProgress } from '@mig/core';
import { describeHolder, type LockWait, type MigrationDirection } from '@mig/core/adapter';
import type { CommandContext } from '../context.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import { formatMs, type Output } from '../output.js';
import type { Shutdown } from '../shutdown.js';

/** Says who holds the lock at once, then every 5 s while the wait lasts. */
export function lockWaitReporter(output: Output): (wait: LockWait) => void {
  let last = Number.NEGATIVE_INFINITY;
  return (wait) => {
    if (wait.waitedMs - last < 5_000 && wait.attempt !== 1) return;
    last = wait.waitedMs;
    output.progress(
      output.color.yellow(
        `waiting for the migration lock (${formatMs(wait.waitedMs)}), held by ${describeHolder(wait.holder)}`,
      ),
    );
  };
}

export interface RunFlags {
  readonly to?: string | undefined;
  readonly dryRun?: boolean | undefined;
  /** SIGINT and SIGTERM: stop the run (and, after a grace period, the running migration). */
  readonly shutdown?: Shutdown | undefined;
}

/** `mig up` and `mig down`: each migration shown as it runs, lock waits explained, a result per migration. */
export async function run(
  ctx: CommandContext,
  output: Output,
  direction: MigrationDirection,
  flags: RunFlags,
): Promise<number> {
  const { color } = output;
  const dryRun = flags.dryRun ?? ctx.config.values.dryRun;
  const reportWait = lockWaitReporter(output);
  let running: string | undefined;
  const onProgress = (event: RunProgress) => {
    if (event.type === 'migration-start') running = event.name;
    if (event.type === 'migration-end') running = undefined;
    switch (event.type) {
      case 'lock-wait':
        reportWait(event.wait);
        break;
      case 'lock-acquired':
        if (event.waitedMs >= 1_000) output.progress(`got the migration lock after ${formatMs(event.waitedMs)}`);
        break;
      case 'migration-start':
        output.progress(`${direction === 'up' ? '→ applying' : '← reverting'} ${event.name} …`);
        break;
      case 'migration-end': {
        const { result } = event;
        const mark = result.status === 'failed' ? color.red('✗ failed  ') : color.green(`✓ ${result.status}`);
        output.progress(`${mark} ${result.name} (${formatMs(result.durationMs)})`);
        break;
      }
    }
  };
  const { shutdown } = flags;
  const options = { to: flags.to, dryRun, onProgress, signal: shutdown?.stop, interrupt: shutdown?.interrupt };
  const unhold = dryRun ? undefined : shutdown?.hold();
  const unguard = shutdown?.guardExit(() => running);
  let result: MigrationRunResult;
  try {
    result = direction === 'up' ? await ctx.migrator.up(options) : await ctx.migrator.down(options);
  } finally {
    unguard?.();
    unhold?.();
  }
  const exitCode = result.error ? exitCodeFor(result.error) : ExitCode.Ok;
  output.result(document(ctx, result, exitCode), () => human(ctx, output, result, direction, flags.to));
  return exitCode;
}

function document(ctx: CommandContext, result: MigrationRunResult, exitCode: number): Record<string, unknown> {
  return {
    ok: result.error === undefined,
    exitCode,
    database: ctx.where,
    direction: result.direction,
    dryRun: result.dryRun,
    lockWaitMs: Math.round(result.lockWaitMs),
    results: result.results.map((r) => ({ ...r, durationMs: Math.round(r.durationMs * 10) / 10 })),
    state: result.status?.state,
    pending: result.status?.pending,
    error: result.error
      ? { code: result.error.code, message: result.error.message, advice: adviceFor(result.error, ctx.config) }
      : undefined,
  };
}

function human(
  ctx: CommandContext,
  output: Output,
  result: MigrationRunResult,
  direction: MigrationDirection,
  to: string | undefined,
): string {
  const { color } = output;
  const verb = direction === 'up' ? 'apply' : 'revert';
  const verbed = direction === 'up' ? 'applied' : 'reverted';
  if (result.error) {
    // A dry run that could not plan says why, as a real run does: it is not "nothing to do".
    const lines = [color.red(`error: ${result.error.message}`)];
    const advice = adviceFor(result.error, ctx.config);
    if (advice) lines.push(`${color.yellow('hint:')} ${advice}`);
    lines.push(color.red(failureSummary(result, verbed)));
    return lines.join('\n');
  }
  if (result.results.length === 0) return nothingToDo(ctx, result, direction, to);
  if (result.dryRun) {
    const lines = [
      color.bold(`Dry run: would ${verb} ${result.results.length} migration(s) in ${ctx.where}; nothing was written.`),
    ];
    for (const r of result.results) {
      lines.push('', color.bold(`-- ${r.name}${r.transactional ? '' : ' (outside a transaction)'}`));
      lines.push(r.sql && r.sql.length > 0 ? r.sql.map((s) => s.trim()).join(';\n') : '-- (no SQL preview available)');
    }
    return lines.join('\n');
  }
  const done = result.results.filter((r) => r.status === 'applied' || r.status === 'reverted');
  const total = done.reduce((sum, r) => sum + r.durationMs, 0);
  const lines = [`${direction === 'up' ? 'Applied' : 'Reverted'} ${count(done.length)} in ${formatMs(total)}.`];
  if (result.status?.state === 'pending' && direction === 'up') {
    lines.push(`${result.status.pending.length} still pending (stopped at --to).`);
  }
  return lines.join('\n');
}

/** A run with nothing to do, and why: up to date, nothing applied, or nothing after `--to`. Dry run or not. */
function nothingToDo(
  ctx: CommandContext,
  result: MigrationRunResult,
  direction: MigrationDirection,
  to: string | undefined,
): string {
  if (direction === 'up') {
    return to === undefined || result.status?.pending.length === 0
      ? `Already up to date: nothing to apply in ${ctx.where}.`
      : `Nothing to apply up to ${to}: it is already applied in ${ctx.where}.`;
  }
  if (to !== undefined) return `Nothing to revert: no migration is applied after ${to} in ${ctx.where}.`;
  return `Nothing to revert: no migration is applied in ${ctx.where}.`;
}

/** "1 migration", "3 migrations". */
function count(n: number): string {
  return `${n} migration${n === 1 ? '' : 's'}`;
}

/** At most this many names are listed in a failure summary; the rest are counted. */
const LISTED = 10;

/** Names one per line, indented; a long list shortened to its first names and "… and N more". */
function listed(names: readonly string[]): string {
  const shown = names.slice(0, LISTED).map((n) => `  ${n}`);
  if (names.length > LISTED) shown.push(`  … and ${names.length - LISTED} more`);
  return shown.join('\n');
}

/** What a failed run did and did not do, names one per line: the error itself is printed just before. */
function failureSummary(result: MigrationRunResult, verbed: string): string {
  const by = (status: string) => result.results.filter((r) => r.status === status).map((r) => r.name);
  const done = by(verbed);
  const failed = by('failed');
  const notRun = by('not-run');
  // A stop (a signal, a shutdown) is not a failure of the migrations: said as what it is.
  const ended = result.error?.code === MigErrorCode.Aborted ? 'Stopped' : 'Failed';
  const lines =
    done.length > 0
      ? [`${ended} after ${verbed === 'applied' ? 'applying' : 'reverting'} ${count(done.length)}:`, listed(done)]
      : [`${ended}: nothing was ${verbed}.`];
  if (failed.length > 0) lines.push(`${failed.join(', ')} failed and was not ${verbed}.`);
  if (notRun.length > 0) lines.push(`Not run (${notRun.length}):`, listed(notRun));
  return lines.join('\n');
}
