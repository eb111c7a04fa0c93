import { adviceFor, ENV, type MigConfigInput, type ResolvedConfig } from '@mig/config';
import { DEFAULT_LOCK_TIMEOUT_MS, LOCK_STRATEGIES } from '@mig/core';
import { DEFAULT_MIGRATIONS_DIR, describeThrown, redactCredentials } from '@mig/core/adapter';
import { FOREIGN_TOOLS } from '@mig/kysely-adapter';
import { Command, CommanderError, Option } from 'commander';
import { bundle } from './commands/bundle.js';
import { create } from './commands/create.js';
import { type AdoptFlags, adopt, baseline, repair } from './commands/history.js';
import { lint } from './commands/lint.js';
import { run } from './commands/run.js';
import { status } from './commands/status.js';
import { statusTenants, type TenantFlags, upTenants } from './commands/tenants.js';
import { unlock } from './commands/unlock.js';
import { verify, verifyBundle } from './commands/verify.js';
import { type CommandContext, type GlobalFlags, type OpenOptions, openContext, resolveCliConfig } from './context.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { colors, createOutput, type Io, type Output } from './output.js';
import { VERSION } from './version.js';

/** How long a finished command waits for its connections to close. */
const CLOSE_WAIT_MS = 2_000;

function example(lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`;
}

/** One run of `mig`: its streams, the exit code the command that ran has set, and its configuration once read. */
interface Invocation {
  readonly io: Io;
  exitCode: number;
  config?: ResolvedConfig | undefined;
}

/**
 * Runs the `mig` command with `argv` (the arguments after `mig`) and returns its exit code.
 *
 * @example
 * process.exitCode = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });
 */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const invocation: Invocation = { io, exitCode: ExitCode.Ok };
  const program = createProgram(io);
  addStatusCommand(program, invocation);
  addUpCommand(program, invocation);
  addDownCommand(program, invocation);
  addCreateCommand(program, invocation);
  addVerifyCommand(program, invocation);
  addUnlockCommand(program, invocation);
  addHistoryCommands(program, invocation);
  addLintCommand(program, invocation);
  addBundleCommand(program, invocation);

  if (argv.length === 0) {
    io.stderr.write(program.helpInformation());
    return ExitCode.Usage;
  }

  let code: number;
  try {
    await program.parseAsync([...argv], { from: 'user' });
    code = invocation.exitCode;
  } catch (error) {
    code = reportFailure(error, io, argv.includes('--json'), invocation.config);
  }
  // Stopped by a signal: the signal's conventional exit code, whatever the command made of it.
  return io.shutdown?.exitCode(code) ?? code;
}

/** The `mig` program with its global options and help, writing to `io`, without its commands. */
function createProgram(io: Io): Command {
  return new Command('mig')
    .description(
      'Database migrations for services that migrate themselves: status, up, down, create, verify, unlock, lint, bundle; adopt, baseline, repair.',
    )
    .version(VERSION, '-v, --version')
    .option('--url <url>', `database URL (default: ${ENV.DATABASE_URL})`)
    .option('--migrations <dir>', `migrations folder (default: ${ENV.MIGRATIONS_DIR}, or ${DEFAULT_MIGRATIONS_DIR})`)
    .option('--config <file>', 'config file (default: mig.config.* or .migrc* found from here)')
    .option('--json', 'print one JSON document on stdout (logs and progress stay on stderr)')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText(
      'after',
      '\nExit codes: 0 done, 1 a migration failed, 2 bad usage or configuration, 3 lock wait timed out,\n' +
        '            4 verification failed, 5 pending migrations (status --fail-on-pending, verify),\n' +
        '            6 lint findings no -- mig:allow accepts (lint).\n' +
        example(['mig status', 'mig up --lock-timeout 2m', 'mig create add_users_email']),
    );
}

const TENANTS_FLAG = '--tenants [selection]';
const TENANTS_HELP =
  "every tenant schema (database on MySQL) whose name matches a LIKE pattern ('tenant_%'), or a comma-separated " +
  'list; with no value, `tenants` of mig.config';
const CONCURRENCY_FLAG = '--concurrency <n>';
const CONCURRENCY_HELP = `with --tenants: tenants at once (default: ${ENV.MIGRATION_TENANT_CONCURRENCY} or 4)`;

/** The flags of `up` and `down`. */
interface RunCommandFlags {
  readonly to?: string;
  readonly dryRun?: boolean;
  readonly lockTimeout?: string;
  readonly migrationTimeout?: string;
}

/** Runs a command that needs the database, closing it whatever happens. */
async function withDatabase(
  invocation: Invocation,
  command: Command,
  overrides: MigConfigInput,
  fn: (ctx: CommandContext, output: Output) => Promise<number>,
  open: OpenOptions & { readonly tenants?: boolean } = {},
): Promise<void> {
  const { io } = invocation;
  const flags = command.optsWithGlobals<GlobalFlags>();
  const output = createOutput(io, flags.json === true);
  const config = await resolveCliConfig(io, flags, overrides);
  invocation.config = config;
  // Over tenants, each running tenant may hold a lock session and a migration's connection at once.
  const maxConnections = open.tenants ? config.values.tenantConcurrency * 2 + 1 : undefined;
  const ctx = await openContext(config, output, { lintWarnings: open.lintWarnings, maxConnections });
  try {
    invocation.exitCode = await fn(ctx, output);
  } finally {
    // The result is printed by now: a failure to close is a warning, never a second document. A connection
    // that a stopped migration still holds is not waited for long.
    const closing = ctx
      .close()
      .catch((error: unknown) => output.logger.warn({}, `closing the connection failed: ${describeThrown(error)}`));
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([
      closing,
      new Promise((resolve) => {
        waited = setTimeout(resolve, CLOSE_WAIT_MS);
      }),
    ]);
    clearTimeout(waited);
  }
}

function addStatusCommand(program: Command, invocation: Invocation): void {
  program
    .command('status')
    .description('list applied, pending, changed and missing migrations')
    .option('--fail-on-pending', 'exit 5 when any migration is pending')
    .option(TENANTS_FLAG, TENANTS_HELP)
    .option(CONCURRENCY_FLAG, CONCURRENCY_HELP)
    .option('--verbose', 'with --tenants: name every tenant, pending ones with their migrations')
    .addHelpText(
      'after',
      example(['mig status', 'mig status --fail-on-pending --json', "mig status --tenants 'tenant_%' --verbose"]),
    )
    .action((opts: Partial<TenantFlags> & { concurrency?: string }, command: Command) => {
      const { tenants } = opts;
      return tenants === undefined
        ? withDatabase(invocation, command, {}, (ctx, output) => status(ctx, output, opts))
        : withDatabase(
            invocation,
            command,
            { tenantConcurrency: opts.concurrency },
            (ctx, output) => statusTenants(ctx, output, { ...opts, tenants }, 'status'),
            { tenants: true },
          );
    });
}

function addUpCommand(program: Command, invocation: Invocation): void {
  program
    .command('up')
    .description('apply pending migrations under the migration lock')
    .option('--dry-run', 'print the plan and its SQL; write nothing')
    .option(
      '--lock-timeout <duration>',
      `longest wait for the lock: ms, or 500ms, 30s, 5m (default: ${ENV.MIGRATION_LOCK_TIMEOUT} or ${DEFAULT_LOCK_TIMEOUT_MS / 1_000}s)`,
    )
    .addOption(
      new Option('--lock-strategy <strategy>', 'advisory, or lease behind PgBouncer in transaction mode').choices(
        LOCK_STRATEGIES,
      ),
    )
    .option('--to <name>', 'apply up to and including this migration')
    .option(TENANTS_FLAG, TENANTS_HELP)
    .option(CONCURRENCY_FLAG, CONCURRENCY_HELP)
    .option(
      '--migration-timeout <duration>',
      `longest run of one migration, then it is stopped and rolled back (default: ${ENV.MIGRATION_TIMEOUT}, or none)`,
    )
    .option(
      '--single-transaction',
      'apply every pending migration in one transaction: a failure leaves nothing (not on MySQL/MariaDB)',
    )
    .addHelpText(
      'after',
      example([
        'mig up',
        'mig up --dry-run',
        'mig up --single-transaction',
        'mig up --to 20260101000000_create_todos --lock-timeout 2m',
        "mig up --tenants 'tenant_%' --concurrency 8",
      ]),
    )
    .action(
      (
        opts: RunCommandFlags & {
          lockStrategy?: string;
          singleTransaction?: boolean;
          tenants?: string | true;
          concurrency?: string;
        },
        command: Command,
      ) => {
        const { tenants } = opts;
        if (tenants !== undefined && opts.to !== undefined) {
          command.error('error: --to applies to one database; leave it out with --tenants', {
            exitCode: ExitCode.Usage,
            code: 'mig.usage',
          });
        }
        const shutdown = invocation.io.shutdown;
        return withDatabase(
          invocation,
          command,
          {
            dryRun: opts.dryRun,
            lockTimeout: opts.lockTimeout,
            lockStrategy: opts.lockStrategy,
            migrationTimeout: opts.migrationTimeout,
            tenantConcurrency: opts.concurrency,
            ...(opts.singleTransaction ? { transaction: 'all' } : {}),
          },
          (ctx, output) =>
            tenants === undefined
              ? run(ctx, output, 'up', { to: opts.to, dryRun: opts.dryRun, shutdown })
              : upTenants(ctx, output, invocation.io, { tenants, dryRun: opts.dryRun, shutdown }),
          // A person runs `mig up`: lint findings are warnings, whatever `lint` says (unless off).
          { lintWarnings: true, tenants: tenants !== undefined },
        );
      },
    );
}

function addDownCommand(program: Command, invocation: Invocation): void {
  program
    .command('down')
    .description('revert the last migration, or every one after --to')
    .option('--to <name>', 'revert every migration applied after this one')
    .option('--dry-run', 'print what would be reverted; write nothing')
    .option('--lock-timeout <duration>', 'longest wait for the lock')
    .option('--migration-timeout <duration>', 'longest run of one migration, then it is stopped and rolled back')
    .addHelpText('after', example(['mig down', 'mig down --to 20260101000000_create_todos']))
    .action((opts: RunCommandFlags, command: Command) =>
      withDatabase(
        invocation,
        command,
        { dryRun: opts.dryRun, lockTimeout: opts.lockTimeout, migrationTimeout: opts.migrationTimeout },
        (ctx, output) =>
          run(ctx, output, 'down', { to: opts.to, dryRun: opts.dryRun, shutdown: invocation.io.shutdown }),
      ),
    );
}

function addCreateCommand(program: Command, invocation: Invocation): void {
  const { io } = invocation;
  program
    .command('create')
    .description('create a new timestamped migration file')
    .argument('<name>', 'what the migration does, e.g. add_users_email')
    .option('--sql', 'a SQL file (default)')
    .option('--ts', 'a TypeScript file exporting up(db) and down(db)')
    .addHelpText('after', example(['mig create add_users_email', 'mig create backfill_emails --ts']))
    .action(async (name: string, opts: { sql?: boolean; ts?: boolean }, command: Command) => {
      const flags = command.optsWithGlobals<GlobalFlags>();
      const output = createOutput(io, flags.json === true);
      if (opts.sql && opts.ts) {
        command.error('error: choose one of --sql and --ts', { exitCode: ExitCode.Usage, code: 'mig.usage' });
      }
      const config = await resolveCliConfig(io, flags);
      invocation.exitCode = await create(io, config, output, name, opts.ts ? 'ts' : 'sql');
    });
}

function addLintCommand(program: Command, invocation: Invocation): void {
  const { io } = invocation;
  program
    .command('lint')
    .description('check the migrations for statements that lock or rewrite tables (no database needed)')
    .addHelpText('after', example(['mig lint', 'mig lint --migrations db/migrations --json']))
    .action(async (_opts: unknown, command: Command) => {
      const flags = command.optsWithGlobals<GlobalFlags>();
      const output = createOutput(io, flags.json === true);
      const config = await resolveCliConfig(io, flags);
      invocation.config = config;
      invocation.exitCode = await lint(config, output);
    });
}

function addBundleCommand(program: Command, invocation: Invocation): void {
  const { io } = invocation;
  program
    .command('bundle')
    .description(
      'write one module holding every migration (SQL inlined, code imported), for bundled and edge builds (no database needed)',
    )
    .requiredOption('--out <file>', 'the module to write: .js or .mjs for JavaScript, .ts or .mts for TypeScript')
    .addHelpText(
      'after',
      '\nPass its default export as `createDatabase({ migrations })`. Write it again whenever a migration changes;\n' +
        '`mig verify --bundle FILE` exits 4 when it is stale (run it in CI).\n' +
        example([
          'mig bundle --out src/migrations.bundle.ts',
          'mig bundle --migrations db/migrations --out dist/migrations.bundle.js',
        ]),
    )
    .action(async (opts: { out: string }, command: Command) => {
      const flags = command.optsWithGlobals<GlobalFlags>();
      const output = createOutput(io, flags.json === true);
      const config = await resolveCliConfig(io, flags);
      invocation.config = config;
      invocation.exitCode = await bundle(io, config, output, opts.out);
    });
}

function addVerifyCommand(program: Command, invocation: Invocation): void {
  program
    .command('verify')
    .description('check checksums and order of applied migrations against the files')
    .option(TENANTS_FLAG, TENANTS_HELP)
    .option(CONCURRENCY_FLAG, CONCURRENCY_HELP)
    .option('--verbose', 'with --tenants: name every tenant')
    .option(
      '--bundle <file>',
      'instead, check that this bundle (written by mig bundle) holds the migrations of the folder; no database needed',
    )
    .addHelpText(
      'after',
      example([
        'mig verify',
        'mig verify --json',
        "mig verify --tenants 'tenant_%'",
        'mig verify --bundle src/migrations.bundle.ts',
      ]),
    )
    .action(async (opts: Partial<TenantFlags> & { concurrency?: string; bundle?: string }, command: Command) => {
      const { tenants } = opts;
      if (opts.bundle !== undefined) {
        if (tenants !== undefined) {
          command.error('error: --bundle checks files, not databases; leave out --tenants', {
            exitCode: ExitCode.Usage,
            code: 'mig.usage',
          });
        }
        const flags = command.optsWithGlobals<GlobalFlags>();
        const output = createOutput(invocation.io, flags.json === true);
        const config = await resolveCliConfig(invocation.io, flags);
        invocation.config = config;
        invocation.exitCode = await verifyBundle(invocation.io, config, output, opts.bundle);
        return;
      }
      return tenants === undefined
        ? withDatabase(invocation, command, {}, (ctx, output) => verify(ctx, output))
        : withDatabase(
            invocation,
            command,
            { tenantConcurrency: opts.concurrency },
            (ctx, output) => statusTenants(ctx, output, { ...opts, tenants }, 'verify'),
            { tenants: true },
          );
    });
}

function addUnlockCommand(program: Command, invocation: Invocation): void {
  program
    .command('unlock')
    .description('show who holds the migration lock; --force clears a lease lock')
    .option('--force', 'end the lease lock whoever holds it')
    .addHelpText('after', example(['mig unlock', 'mig unlock --force']))
    .action((opts: { force?: boolean }, command: Command) =>
      withDatabase(invocation, command, {}, (ctx, output) => unlock(ctx, output, opts.force === true)),
    );
}

/** adopt, baseline and repair: they write mig's records only, under the lock. */
function addHistoryCommands(program: Command, invocation: Invocation): void {
  program
    .command('adopt')
    .description("record another tool's applied migrations as mig's, running nothing")
    .addOption(
      new Option('--from <tool>', 'the tool whose history to adopt').choices(FOREIGN_TOOLS).makeOptionMandatory(),
    )
    .option('--table <name>', "the tool's history table, when renamed (e.g. Kysely's migrationTableName)")
    .option('--schema <name>', "the schema of the tool's history table, when not the default")
    .option('--dry-run', 'show what would be recorded; write nothing')
    .option('--lock-timeout <duration>', 'longest wait for the lock')
    .addHelpText('after', example(['mig adopt --from kysely --dry-run', 'mig adopt --from knex']))
    .action((opts: AdoptFlags & { lockTimeout?: string }, command: Command) =>
      withDatabase(invocation, command, { lockTimeout: opts.lockTimeout }, (ctx, output) => adopt(ctx, output, opts)),
    );
  program
    .command('baseline')
    .description('record every migration up to --to as applied, running nothing (a schema made by other means)')
    .requiredOption('--to <name>', 'the last migration the schema already has')
    .option('--dry-run', 'show what would be recorded; write nothing')
    .option('--lock-timeout <duration>', 'longest wait for the lock')
    .addHelpText('after', example(['mig baseline --to 20260101000000_create_todos --dry-run']))
    .action((opts: { to: string; dryRun?: boolean; lockTimeout?: string }, command: Command) =>
      withDatabase(invocation, command, { lockTimeout: opts.lockTimeout }, (ctx, output) =>
        baseline(ctx, output, opts),
      ),
    );
  program
    .command('repair')
    .description("accept intentional edits of applied migrations: record their files' current checksums")
    .option('--forget <name>', 'instead, remove the record of this one deleted migration file')
    .option('--yes', 'do not ask for confirmation (needed when not run from a terminal)')
    .option('--dry-run', 'show what would change; write nothing')
    .option('--lock-timeout <duration>', 'longest wait for the lock')
    .addHelpText(
      'after',
      example(['mig repair --dry-run', 'mig repair --yes', 'mig repair --forget 20260101000000_old']),
    )
    .action((opts: { forget?: string; yes?: boolean; dryRun?: boolean; lockTimeout?: string }, command: Command) =>
      withDatabase(invocation, command, { lockTimeout: opts.lockTimeout }, (ctx, output) =>
        repair(ctx, output, invocation.io, opts),
      ),
    );
}

/** Reports what made the run fail (one JSON document on stdout with `--json`) and returns the exit code. */
function reportFailure(error: unknown, io: Io, wantsJson: boolean, config?: ResolvedConfig): number {
  if (error instanceof CommanderError) {
    if (
      error.code === 'commander.helpDisplayed' ||
      error.code === 'commander.version' ||
      error.code === 'commander.help'
    ) {
      return ExitCode.Ok;
    }
    if (wantsJson)
      io.stdout.write(
        `${JSON.stringify({ ok: false, exitCode: ExitCode.Usage, error: { code: error.code, message: error.message } }, null, 2)}\n`,
      );
    return ExitCode.Usage;
  }
  const code = exitCodeFor(error);
  const message = redactCredentials(describeThrown(error));
  const advice = adviceFor(error, config);
  if (wantsJson) {
    const errorCode = (error as { code?: unknown }).code;
    io.stdout.write(
      `${JSON.stringify({ ok: false, exitCode: code, error: { code: errorCode, message, advice } }, null, 2)}\n`,
    );
  }
  const color = colors(io.stderr, io.env);
  io.stderr.write(`${color.red('error:')} ${message}\n`);
  if (advice) io.stderr.write(`${color.yellow('hint:')} ${advice}\n`);
  return code;
}
