import { dirname, extname, relative, resolve, sep } from 'node:path';
import { InvalidOptionError, MigrationSourceError } from '@mig/core';
import { VERSION } from '../version.js';
import { BUNDLE_FORMAT, BUNDLE_FORMAT_VERSION } from './bundle.js';
import { type FolderMigration, readMigrationsFolder } from './folder.js';
import type { LayoutName } from './layouts.js';

/** The text of a bundle module, and what it holds. */
export interface BundleModuleText {
  readonly text: string;
  readonly layout: LayoutName;
  readonly migrations: number;
  /** Of them, code migrations (imported by the module). */
  readonly code: number;
}

export interface BundleModuleOptions {
  /** The migrations folder (absolute, or relative to `process.cwd()`). */
  readonly folder: string;
  /** Where the module will be written: its extension chooses JavaScript or TypeScript, its folder the imports. */
  readonly outFile: string;
  /** The command that writes it again, named in the module's header. Default: `mig bundle --out <outFile>`. */
  readonly command?: string | undefined;
}

const KINDS: Readonly<Record<string, 'js' | 'ts'>> = { '.js': 'js', '.mjs': 'js', '.ts': 'ts', '.mts': 'ts' };
/** A TypeScript module names a TypeScript file by the JavaScript it becomes, as NodeNext resolution expects. */
const TS_SPECIFIER: Readonly<Record<string, string>> = { '.ts': '.js', '.mts': '.mjs', '.cts': '.cjs' };

/**
 * The module `mig bundle` writes for a migrations folder: its default export is a `MigrationBundle`, each SQL
 * migration's text inlined as a string literal and each code migration imported statically (by a path
 * relative to the module, so a bundler follows it). What it holds is what the folder's checksums are computed
 * from, so the bundle and the folder are the same migrations to a database.
 *
 * @example
 * const { text } = await renderBundleModule({ folder: 'migrations', outFile: 'src/migrations.bundle.ts' });
 */
export async function renderBundleModule(options: BundleModuleOptions): Promise<BundleModuleText> {
  const folder = resolve(options.folder);
  const outFile = resolve(options.outFile);
  const kind = KINDS[extname(outFile)];
  if (kind === undefined) {
    throw new InvalidOptionError(
      'out',
      `The bundle ${options.outFile} must be a module ending in .js, .mjs, .ts or .mts (found "${extname(outFile) || 'no extension'}"): ` +
        'its extension chooses JavaScript or TypeScript.',
      { context: { reason: 'bad-extension' } },
    );
  }
  if (!relative(folder, outFile).startsWith('..')) {
    throw new InvalidOptionError(
      'out',
      `The bundle ${options.outFile} is inside the migrations folder ${folder}, where it would be read as a migration: ` +
        'write it elsewhere, e.g. src/migrations.bundle.ts.',
      { context: { reason: 'inside-migrations' } },
    );
  }
  let read: Awaited<ReturnType<typeof readMigrationsFolder>>;
  try {
    read = await readMigrationsFolder(folder);
  } catch (error) {
    if (!(error instanceof MigrationSourceError)) throw error;
    throw new MigrationSourceError(`Cannot bundle the migrations: ${error.message}`, {
      cause: error,
      context: { ...error.context, bundle: options.outFile },
    });
  }
  const { reading, items } = read;
  const outDir = dirname(outFile);
  const imports: string[] = [];
  const entries = items.map((item, index) => {
    const file = posix(relative(folder, item.entry.path));
    if (!('checksum' in item.content)) return sqlEntry(item, file);
    const binding = `migration${index}`;
    imports.push(`import * as ${binding} from ${JSON.stringify(specifier(outDir, item.entry.path, kind))};`);
    return [
      '    {',
      `      name: ${JSON.stringify(item.entry.name)},`,
      `      file: ${JSON.stringify(file)},`,
      `      checksum: ${JSON.stringify(item.content.checksum)},`,
      `      module: ${binding},`,
      '    },',
    ].join('\n');
  });
  const from = posix(relative(outDir, folder)) || '.';
  const command = options.command ?? `mig bundle --out ${options.outFile}`;
  const text = [
    `// Written by \`mig bundle\` (mig ${VERSION}) from ${from}, read as ${reading.label}.`,
    `// Do not edit. Write it again when a migration changes: ${command}`,
    '// `mig verify --bundle` says when it is stale.',
    ...(imports.length > 0 ? ['', ...imports] : []),
    '',
    'export default {',
    `  format: ${JSON.stringify(BUNDLE_FORMAT)},`,
    `  version: ${BUNDLE_FORMAT_VERSION},`,
    `  mig: ${JSON.stringify(VERSION)},`,
    `  layout: ${JSON.stringify(reading.layout)},`,
    `  ordered: ${reading.ordered},`,
    `  from: ${JSON.stringify(from)},`,
    '  migrations: [',
    ...entries,
    '  ],',
    // TypeScript keeps the literal types (format, layout), so the module is a MigrationBundle as written.
    kind === 'ts' ? '} as const;' : '};',
    '',
  ].join('\n');
  const code = items.filter((item) => 'checksum' in item.content).length;
  return { text, layout: reading.layout, migrations: items.length, code };
}

function sqlEntry(item: FolderMigration, file: string): string {
  const content = item.content as { sql: string; down?: string; dialect?: string };
  // JSON string literals are JavaScript string literals: every quote, backslash and control character escaped.
  return [
    '    {',
    `      name: ${JSON.stringify(item.entry.name)},`,
    `      file: ${JSON.stringify(file)},`,
    ...(content.dialect === undefined ? [] : [`      dialect: ${JSON.stringify(content.dialect)},`]),
    `      sql: ${JSON.stringify(content.sql)},`,
    ...(content.down === undefined ? [] : [`      down: ${JSON.stringify(content.down)},`]),
    '    },',
  ].join('\n');
}

function specifier(outDir: string, path: string, kind: 'js' | 'ts'): string {
  let target = posix(relative(outDir, path));
  const ext = extname(target);
  const rewritten = kind === 'ts' ? TS_SPECIFIER[ext] : undefined;
  if (rewritten !== undefined) target = target.slice(0, -ext.length) + rewritten;
  return target.startsWith('.') ? target : `./${target}`;
}

function posix(path: string): string {
  return sep === '/' ? path : path.split(sep).join('/');
}
