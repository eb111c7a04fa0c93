import { existsSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import type { ResolvedConfig } from '@mig/config';
import { InvalidOptionError, type Migration } from '@mig/core';
import { describeProblem, describeThrown } from '@mig/core/adapter';
import { createBundleSource, createFolderSource, type MigrationBundle } from '@mig/kysely-adapter';
import type { CommandContext } from '../context.js';
import { ExitCode } from '../exit-codes.js';
import type { Io, Output } from '../output.js';

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

/** What changed in the folder since the bundle was written. */
export interface BundleDifference {
  /** In the folder, not in the bundle. */
  readonly added: readonly string[];
  /** In the bundle, no longer in the folder. */
  readonly removed: readonly string[];
  /** In both, with another checksum. */
  readonly changed: readonly string[];
  /** In both, in another order. */
  readonly reordered: boolean;
}

/**
 * `mig verify --bundle FILE`: the bundle against the migrations folder (the configured one, else the one it
 * was written from), both read by the same code, so a bundle that differs was written before the folder last
 * changed. Needs no database. Exits 4 when stale.
 */
export async function verifyBundle(io: Io, config: ResolvedConfig, output: Output, file: string): Promise<number> {
  const path = resolve(io.cwd, file);
  const shown = relative(io.cwd, path) || path;
  const bundle = await importBundle(path, shown);
  // Unless a folder is configured, the one the bundle was written from (recorded relative to it).
  const from = (bundle as { from?: unknown } | null)?.from;
  const configured = config.sources.migrationsDir !== 'default' || typeof from !== 'string';
  const folder = configured ? resolve(io.cwd, config.values.migrationsDir) : resolve(dirname(path), from);
  const bundled = await createBundleSource(bundle, { description: `bundle ${shown}` }).load();
  const current = await createFolderSource(folder).load();
  const difference = compareMigrations(bundled, current);
  const stale = difference.added.length + difference.removed.length + difference.changed.length > 0;
  const exitCode = stale || difference.reordered ? ExitCode.VerifyFailed : ExitCode.Ok;
  const folderShown = relative(io.cwd, folder) || '.';
  const rerun = `mig bundle --migrations ${folderShown} --out ${shown}`;
  const { color } = output;
  output.result(
    {
      ok: exitCode === ExitCode.Ok,
      exitCode,
      bundle: path,
      folder,
      migrations: current.length,
      ...difference,
      ...(exitCode === ExitCode.Ok ? {} : { fix: rerun }),
    },
    () => {
      if (exitCode === ExitCode.Ok) {
        return `${color.green('✓')} ${shown} holds the ${current.length} migration(s) of ${folderShown}, unchanged`;
      }
      const lines = [color.red(`${shown} is stale: the migrations in ${folderShown} changed since it was written`)];
      for (const name of difference.added) lines.push(`  ${color.red('+')} added: ${name}`);
      for (const name of difference.removed) lines.push(`  ${color.red('-')} removed: ${name}`);
      for (const name of difference.changed) lines.push(`  ${color.red('~')} changed: ${name}`);
      if (difference.reordered) lines.push(`  ${color.red('~')} the order of the migrations changed`);
      lines.push(`Write it again: ${rerun}`);
      return lines.join('\n');
    },
  );
  return exitCode;
}

/** Names added, removed and changed (checksum) from `before` to `after`, and whether the shared ones moved. */
export function compareMigrations(
  before: readonly Pick<Migration, 'name' | 'checksum'>[],
  after: readonly Pick<Migration, 'name' | 'checksum'>[],
): BundleDifference {
  const old = new Map(before.map((m) => [m.name, m.checksum]));
  const now = new Map(after.map((m) => [m.name, m.checksum]));
  const shared = (list: readonly Pick<Migration, 'name'>[], other: Map<string, string>) =>
    list.filter((m) => other.has(m.name)).map((m) => m.name);
  const a = shared(before, now);
  const b = shared(after, old);
  return {
    added: after.filter((m) => !old.has(m.name)).map((m) => m.name),
    removed: before.filter((m) => !now.has(m.name)).map((m) => m.name),
    changed: after.filter((m) => old.has(m.name) && old.get(m.name) !== m.checksum).map((m) => m.name),
    reordered: a.some((name, i) => b[i] !== name),
  };
}

/**
 * The bundle module's default export, loaded with jiti: a TypeScript bundle, and a JavaScript one that imports
 * TypeScript migrations, load as a bundler would read them.
 */
async function importBundle(path: string, shown: string): Promise<MigrationBundle> {
  if (!existsSync(path)) {
    throw new InvalidOptionError(
      'bundle',
      `The bundle ${shown} does not exist. Write it with \`mig bundle --out ${shown}\`, or name the file it was written to.`,
      { context: { reason: 'missing-bundle' } },
    );
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false });
  try {
    return (await jiti.import(path, { default: true })) as MigrationBundle;
  } catch (error) {
    throw new InvalidOptionError('bundle', `Cannot load the bundle ${shown}: ${describeThrown(error)}`, {
      cause: error,
      context: { reason: 'unloadable-bundle' },
    });
  }
}
