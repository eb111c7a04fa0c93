import { isMigError, type Logger, type MigrationStatus } from '@mig/core';
import { describeProblem, describeThrown, silentLogger } from '@mig/core/adapter';
import { isTransientConnectionError } from '@mig/kysely-adapter';
import { migrationOn, type TenantLayout, tenantLayout } from '@mig/service';
import type { CommandContext } from '../context.js';
import { ExitCode, exitCodeFor } from '../exit-codes.js';
import { formatMs, type Io, type Output } from '../output.js';
import type { Shutdown } from '../shutdown.js';
import { forEachTenant, selectTenants } from './tenant-list.js';
import { tenantProgress } from './tenant-progress.js';

export interface TenantFlags {
  /** The `--tenants` value: a pattern or a comma list, or true for the configuration's `tenants`. */
  readonly tenants: string | true;
  readonly verbose?: boolean | undefined;
  readonly failOnPending?: boolean | undefined;
  readonly dryRun?: boolean | undefined;
  readonly shutdown?: Shutdown | undefined;
}

/** What happened in one tenant. */
interface TenantOutcome {
  readonly tenant: string;
  readonly ok: boolean;
  readonly applied?: readonly string[];
  readonly state?: string;
  readonly pending?: readonly string[];
  readonly problems?: readonly string[];
  readonly error?: { readonly code: string | undefined; readonly message: string; readonly exitCode: number };
  readonly durationMs: number;
}

/**
 * Runs `work` with a tenant's migrator: its store in its own schema (database, file), where its migrations
 * run, with its own lock key; a tenant's own database is closed afterwards.
 */
async function withTenant<T>(
  ctx: CommandContext,
  layout: TenantLayout,
  tenant: string,
  logger: Logger,
  work: (migrator: ReturnType<typeof migrationOn>['migrator']) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const opened = await layout.open(tenant);
    try {
      return await work(migrationOn(ctx.config, opened.opened, ctx.source, { logger }, opened.place).migrator);
    } catch (error) {
      // A server full of clients for a moment (others share it) is no failure of this tenant: try again.
      if (attempt >= TRANSIENT_ATTEMPTS || !transient(ctx, error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** attempt));
    } finally {
      await opened.close();
    }
  }
}

/** The server refused a connection for now (too many clients, starting up), as the error or its cause says. */
function transient(ctx: CommandContext, error: unknown): boolean {
  const { engine } = ctx.adapter;
  return (
    isTransientConnectionError(error, engine) ||
    isTransientConnectionError((error as { cause?: unknown } | null)?.cause, engine)
  );
}

/** Tries of one tenant when the server refuses a connection for now (too many clients). */
const TRANSIENT_ATTEMPTS = 4;

function layoutOf(ctx: CommandContext): TenantLayout {
  return tenantLayout(ctx.url, ctx.opened, { applicationName: 'mig' });
}

function failure(tenant: string, started: number, error: unknown): TenantOutcome {
  return {
    tenant,
    ok: false,
    error: {
      code: isMigError(error) ? error.code : undefined,
      message: describeThrown(error),
      exitCode: exitCodeFor(error),
    },
    durationMs: performance.now() - started,
  };
}

/** A tenant's warnings, named; the rest of the library's lines stay quiet (the progress says it). */
function tenantLogger(output: Output, tenant: string): Logger {
  return { ...silentLogger, warn: (fields, message) => output.logger.warn(fields, `${tenant}: ${message ?? ''}`) };
}

/**
 * `mig up --tenants`: every selected tenant's schema brought up to date, `concurrency` at a time, each under its
 * own lock, each migration in its own transaction with its record: a run killed part-way and run again applies
 * what is left, once. A failure in one tenant never stops the others; the summary and the exit code name them.
 */
export async function upTenants(ctx: CommandContext, output: Output, io: Io, flags: TenantFlags): Promise<number> {
  const layout = layoutOf(ctx);
  const list = await selectTenants(ctx, layout, flags.tenants);
  const concurrency = ctx.config.values.tenantConcurrency;
  const dryRun = flags.dryRun ?? ctx.config.values.dryRun;
  const progress = tenantProgress(io, output, list.names.length);
  const outcomes: TenantOutcome[] = [];
  const { shutdown } = flags;
  const unhold = dryRun ? undefined : shutdown?.hold();
  try {
    await forEachTenant(
      list.names,
      concurrency,
      async (tenant) => {
        const started = performance.now();
        let outcome: TenantOutcome;
        try {
          if (list.explicit && !dryRun) await ensureTenant(ctx, layout, tenant);
          const result = await withTenant(ctx, layout, tenant, tenantLogger(output, tenant), async (migrator) => {
            const run = await migrator.up({ dryRun, signal: shutdown?.stop, interrupt: shutdown?.interrupt });
            // Refused a connection before anything was applied: thrown, so that it is tried again.
            if (run.error && run.results.every((r) => r.status !== 'applied') && transient(ctx, run.error)) {
              throw run.error;
            }
            return run;
          });
          const applied = result.results.filter((r) => r.status === 'applied' || r.status === 'planned');
          outcome = result.error
            ? { ...failure(tenant, started, result.error), applied: applied.map((r) => r.name) }
            : { tenant, ok: true, applied: applied.map((r) => r.name), durationMs: performance.now() - started };
        } catch (error) {
          outcome = failure(tenant, started, error);
        }
        outcomes.push(outcome);
        progress.done(tenant, upLine(output, outcome, dryRun), !outcome.ok);
      },
      shutdown?.stop,
    );
  } finally {
    progress.end();
    unhold?.();
  }
  const failed = outcomes.filter((o) => !o.ok);
  const skipped = list.names.length - outcomes.length;
  const exitCode = failed[0]?.error?.exitCode ?? (skipped > 0 ? ExitCode.Failed : ExitCode.Ok);
  const applied = outcomes.reduce((n, o) => n + (o.applied?.length ?? 0), 0);
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      database: server(ctx),
      selected: list.described,
      tenants: list.names.length,
      failed: failed.map((o) => o.tenant),
      notStarted: skipped,
      applied,
      outcomes: sorted(outcomes),
    },
    () => {
      const { color } = output;
      const head =
        `${outcomes.length - failed.length} of ${list.names.length} tenant(s) up to date (${list.described}), ` +
        `${applied} migration(s) ${dryRun ? 'planned' : 'applied'}`;
      const lines = [failed.length === 0 && skipped === 0 ? color.green(`✓ ${head}`) : head];
      if (failed.length > 0) {
        lines.push(color.red(`✗ ${failed.length} tenant(s) failed: ${failed.map((o) => o.tenant).join(', ')}`));
      }
      if (skipped > 0) lines.push(color.yellow(`${skipped} tenant(s) not started (stopped); run again to finish`));
      return lines.join('\n');
    },
  );
  return exitCode;
}

function upLine(output: Output, o: TenantOutcome, dryRun: boolean): string {
  const { color } = output;
  if (!o.ok) return `${color.red('✗')} ${o.tenant}: ${o.error?.message ?? 'failed'}`;
  const n = o.applied?.length ?? 0;
  const what = n === 0 ? 'up to date' : `${n} ${dryRun ? 'planned' : 'applied'}`;
  return `${color.green('✓')} ${o.tenant}: ${what} (${formatMs(o.durationMs)})`;
}

async function ensureTenant(ctx: CommandContext, layout: TenantLayout, tenant: string): Promise<void> {
  if (await layout.exists(tenant)) return;
  if (!ctx.config.values.createTenantSchemas) {
    throw new Error(
      `no ${layout.kind} "${tenant}", and createTenantSchemas is off: create it, or set createTenantSchemas to true`,
    );
  }
  await layout.create(tenant);
}

/** One tenant's status, read (one round trip), never written. */
async function readStatus(
  ctx: CommandContext,
  layout: TenantLayout,
  tenant: string,
  output: Output,
): Promise<TenantOutcome> {
  const started = performance.now();
  try {
    const status: MigrationStatus = await withTenant(ctx, layout, tenant, tenantLogger(output, tenant), (m) =>
      m.status(),
    );
    const problems = [
      ...status.problems.map((p) => describeProblem(p)),
      ...status.ahead.map((name) => `"${name}" was applied by a newer version of the code`),
    ];
    return {
      tenant,
      ok: problems.length === 0,
      state: status.state,
      pending: status.pending,
      problems,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    return failure(tenant, started, error);
  }
}

/**
 * `mig status --tenants` and `mig verify --tenants`: every selected tenant's status, summed up: N up to date,
 * M pending, K failed or drifted (each named with --verbose). Status exits 5 with --fail-on-pending when any is
 * pending, 4 on drift; verify as status with --fail-on-pending, and drift includes a tenant ahead of the files.
 */
export async function statusTenants(
  ctx: CommandContext,
  output: Output,
  flags: TenantFlags,
  command: 'status' | 'verify',
): Promise<number> {
  const layout = layoutOf(ctx);
  const list = await selectTenants(ctx, layout, flags.tenants);
  const outcomes: TenantOutcome[] = [];
  await forEachTenant(list.names, ctx.config.values.tenantConcurrency, async (tenant) => {
    outcomes.push(await readStatus(ctx, layout, tenant, output));
  });
  const all = sorted(outcomes);
  const upToDate = all.filter((o) => o.ok && (o.pending?.length ?? 0) === 0).map((o) => o.tenant);
  const pending = all.filter((o) => o.ok && (o.pending?.length ?? 0) > 0).map((o) => o.tenant);
  const failed = all.filter((o) => !o.ok).map((o) => o.tenant);
  const failOnPending = command === 'verify' || flags.failOnPending === true;
  const errorExit = all.find((o) => o.error)?.error?.exitCode;
  const exitCode =
    failed.length > 0
      ? (errorExit ?? ExitCode.VerifyFailed)
      : failOnPending && pending.length > 0
        ? ExitCode.Pending
        : ExitCode.Ok;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      database: server(ctx),
      selected: list.described,
      tenants: list.names.length,
      upToDate: upToDate.length,
      pending: flags.verbose ? pending : pending.length,
      failed,
      outcomes: flags.verbose ? all : undefined,
    },
    () => {
      const { color } = output;
      const lines = [
        `${color.bold('Tenants')}     ${list.names.length} (${list.described}) in ${server(ctx)}`,
        `${color.green(`${upToDate.length} up to date`)}, ${pending.length > 0 ? color.yellow(`${pending.length} pending`) : '0 pending'}, ` +
          `${failed.length > 0 ? color.red(`${failed.length} failed or drifted`) : '0 failed or drifted'}`,
      ];
      const detailed = all.filter((o) => !o.ok || (flags.verbose && (o.pending?.length ?? 0) > 0));
      for (const o of detailed) {
        const why =
          o.error?.message ??
          (o.problems?.length ? o.problems.join('; ') : `${o.pending?.length} pending: ${o.pending?.join(', ')}`);
        lines.push(`  ${o.ok ? color.yellow('•') : color.red('✗')} ${o.tenant}: ${why}`);
      }
      if (flags.verbose) for (const t of upToDate) lines.push(`  ${color.green('✓')} ${t}: up to date`);
      if (!flags.verbose && pending.length > 0) lines.push(color.dim('Name each pending tenant with --verbose.'));
      return lines.join('\n');
    },
  );
  return exitCode;
}

/** Where the tenants are: the server and database, without the default schema's table. */
function server(ctx: CommandContext): string {
  return ctx.where.replace(/ \([^)]*\)$/, '');
}

function sorted(outcomes: readonly TenantOutcome[]): TenantOutcome[] {
  return [...outcomes].sort((a, b) => (a.tenant < b.tenant ? -1 : a.tenant > b.tenant ? 1 : 0));
}
