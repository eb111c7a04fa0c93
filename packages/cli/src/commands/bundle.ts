import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, relative, resolve } from 'node:path';
import type { ResolvedConfig } from '@mig/config';
import { InvalidOptionError } from '@mig/core';
import { describeThrown } from '@mig/core/adapter';
import { renderBundleModule } from '@mig/kysely-adapter';
import { ExitCode } from '../exit-codes.js';
import type { Io, Output } from '../output.js';

/**
 * `mig bundle --out FILE`: one module holding every migration of the folder (SQL inlined, code imported
 * statically), for builds that carry no migrations folder. Needs no database.
 */
export async function bundle(io: Io, config: ResolvedConfig, output: Output, out: string): Promise<number> {
  const folder = resolve(io.cwd, config.values.migrationsDir);
  const outFile = resolve(io.cwd, out);
  const shown = relative(io.cwd, outFile) || outFile;
  const written = await renderBundleModule({
    folder,
    outFile,
    command: `mig bundle --migrations ${relative(io.cwd, folder) || '.'} --out ${shown}`,
  });
  try {
    await mkdir(dirname(outFile), { recursive: true });
    await writeFile(outFile, written.text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
        ? 'permission denied: choose a folder you can write to, or fix its permissions'
        : code === 'EISDIR'
          ? 'it is a folder: name a file, e.g. src/migrations.bundle.ts'
          : code === 'ENOTDIR'
            ? 'a part of its path is a file, not a folder'
            : describeThrown(error);
    throw new InvalidOptionError('out', `Cannot write the bundle ${shown}: ${why}.`, {
      cause: error,
      context: { reason: 'unwritable-out', code },
    });
  }
  output.result(
    {
      ok: true,
      exitCode: ExitCode.Ok,
      file: outFile,
      folder,
      layout: written.layout,
      migrations: written.migrations,
      code: written.code,
    },
    () =>
      `${output.color.green('✓')} Wrote ${shown}: ${written.migrations} migration(s) from ${relative(io.cwd, folder) || '.'} ` +
      `(${written.migrations - written.code} SQL inlined, ${written.code} code imported). Write it again when a ` +
      'migration changes; `mig verify --bundle` says when it is stale.',
  );
  return ExitCode.Ok;
}
