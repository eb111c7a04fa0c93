import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { ConfigError, type ConfigProblem } from './errors.js';
import { ConfigFileError, isLoadable, LOADERS, SEARCH_PLACES } from './internal/loaders.js';
import { redactText } from './internal/redact.js';
import { resolveSources } from './internal/resolve.js';
import type { MigConfigInput, ResolvedConfig } from './types.js';

export interface LoadConfigOptions {
  /** Where the search for a config file starts and what relative paths from env/flags resolve against. Default `process.cwd()`. */
  readonly cwd?: string | undefined;
  /** Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** An explicit config file (the CLI's `--config`), relative to `cwd`; no search happens, and a missing file is an error. */
  readonly configFile?: string | undefined;
  /** CLI flags or explicit options: highest precedence. `undefined` values count as unset. */
  readonly overrides?: MigConfigInput | undefined;
  /** Look for a config file. Default true. */
  readonly searchFile?: boolean | undefined;
  /**
   * The database URL forms the caller can open, e.g. `URL_FORMS` of `@mig/kysely-adapter`
   * (`postgres://…`, `mysql://…`, `sqlite:PATH`, …): a URL of another scheme is a configuration error
   * listing them. Without them, a database URL is checked for its form only.
   */
  readonly databaseUrls?: readonly string[] | undefined;
}

/**
 * Reads mig's configuration: a config file (found from `cwd` upward, see the README), the environment and the
 * overrides, validated and merged (flag > env > file > default). Throws a {@link ConfigError} listing every
 * problem at once: bad values, unknown keys, a file that does not parse.
 *
 * @example
 * ```ts
 * import { loadConfig, logConfig } from '@mig/config';
 *
 * const config = await loadConfig();
 * logConfig(config, logger); // one line: each value and where it came from, the password masked
 * const { databaseUrl, autoMigrate, lockTimeoutMs } = config.values;
 * ```
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = resolve(options.cwd ?? process.cwd());
  const problems: ConfigProblem[] = [];
  let file: { path: string; config: unknown } | undefined;
  try {
    const found = await findConfigFile(cwd, options);
    if (found) file = { path: found.filepath, config: found.config };
  } catch (error) {
    problems.push(fileProblem(error));
  }
  // Resolved even when the file failed, so that the environment's problems are reported in the same error.
  const resolution = resolveSources({
    env: options.env,
    file,
    overrides: options.overrides,
    cwd,
    databaseUrls: options.databaseUrls,
  });
  problems.push(...resolution.problems);
  if (resolution.resolved === undefined || problems.length > 0) throw new ConfigError(problems);
  return resolution.resolved;
}

/** Something wrong with `configFile` itself, carried out of the file lookup to be reported with the rest. */
class ExplicitFileProblem extends Error {
  constructor(readonly problem: ConfigProblem) {
    super(problem.message);
  }
}

/** A config file found and read: its path and what it exports (undefined for an empty file). */
interface FoundConfig {
  readonly filepath: string;
  readonly config: unknown;
}

/**
 * Reads one config file with the loader for its name: a package.json's `mig` key, JSON, or a module. An empty
 * file sets nothing. A file that cannot be read, or whose loader fails, is an error carrying its path.
 */
async function readConfigFile(filepath: string): Promise<{ found: FoundConfig; empty: boolean }> {
  try {
    const content = await readFile(filepath, 'utf8');
    if (content.trim() === '') return { found: { filepath, config: undefined }, empty: true };
    if (basename(filepath) === 'package.json') {
      const pkg = (await LOADERS['.json'](filepath, content)) as Record<string, unknown> | null;
      const config = pkg !== null && typeof pkg === 'object' ? pkg.mig : undefined;
      return { found: { filepath, config }, empty: config === undefined };
    }
    const extension = extname(filepath);
    const load = LOADERS[(extension === '' ? 'noExt' : extension) as keyof typeof LOADERS];
    return { found: { filepath, config: await load(filepath, content) }, empty: false };
  } catch (error) {
    if (error instanceof Error && !('filepath' in error)) Object.assign(error, { filepath });
    throw error;
  }
}

/** The first search place in `dir` that holds a config (a package.json without a `mig` key, or an empty file, does not). */
async function searchFolder(dir: string): Promise<FoundConfig | null> {
  const names = new Set(await readdir(dir).catch(() => [] as string[]));
  for (const place of SEARCH_PLACES) {
    if (!names.has(place) || !(await isFile(join(dir, place)))) continue;
    const { found, empty } = await readConfigFile(join(dir, place));
    if (!empty) return found;
  }
  return null;
}

async function findConfigFile(cwd: string, options: LoadConfigOptions): Promise<FoundConfig | null> {
  if (options.configFile !== undefined) {
    const path = resolve(cwd, options.configFile);
    const given = JSON.stringify(options.configFile);
    if (!(await isFile(path))) {
      throw new ExplicitFileProblem({
        key: 'configFile',
        source: 'flag',
        value: options.configFile,
        message: `${given} does not exist or is not a file (looked for ${path}); pass the path of an existing config file`,
      });
    }
    if (!isLoadable(path)) {
      throw new ExplicitFileProblem({
        key: 'configFile',
        source: 'flag',
        value: options.configFile,
        message: `${given} is not a supported config file; use .json, .js, .mjs, .cjs, .ts, .mts, .cts, or a JSON file without extension`,
      });
    }
    return (await readConfigFile(path)).found;
  }
  if (options.searchFile === false) return null;
  // From cwd upward, stopping after the first folder that is a package or repository root (package.json or
  // .git): a service picks up its own config, never one from a parent project or the home folder.
  for (let dir = cwd; ; ) {
    const found = await searchFolder(dir);
    if (found) return found;
    const parent = dirname(dir);
    if (parent === dir || (await isRoot(dir))) return null;
    dir = parent;
  }
}

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isFile() ?? false;
}

async function isRoot(dir: string): Promise<boolean> {
  const [pkg, git] = await Promise.all([
    stat(join(dir, 'package.json')).catch(() => undefined),
    stat(join(dir, '.git')).catch(() => undefined),
  ]);
  return pkg !== undefined || git !== undefined;
}

function fileProblem(error: unknown): ConfigProblem {
  if (error instanceof ExplicitFileProblem) return error.problem;
  if (error instanceof ConfigFileError) {
    const { filepath, position } = error;
    const key = position ? `${position.file}:${position.line}:${position.column}` : filepath;
    return { key, source: 'file', value: undefined, message: error.reason, file: filepath };
  }
  const filepath = error instanceof Error && 'filepath' in error ? error.filepath : undefined;
  if (typeof filepath !== 'string') throw error;
  // No `cause` kept anywhere: loader errors can quote the file, and the file can hold a password.
  const message = error instanceof Error ? error.message : String(error);
  return {
    key: filepath,
    source: 'file',
    value: undefined,
    message: `could not be read: ${redactText(message.split('\n')[0] ?? '')}`,
    file: filepath,
  };
}
