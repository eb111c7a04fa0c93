import { extname } from 'node:path';
import type { Jiti } from 'jiti';
import { DEFAULTS, ENV } from '../defaults.js';
import { defineConfig } from '../define-config.js';
import { parseBoolean, parseDuration } from '../parse.js';
import { redactUrl } from '../redact-url.js';
import { parseJson } from './json.js';
import { redactText } from './redact.js';

/** Reads a config file's content (given, already read) into the value it exports. */
type Loader = (filepath: string, content: string) => unknown;

/**
 * Where a config file is looked for in each folder, in this order (cosmiconfig's order: package.json first,
 * then rc files, then `mig.config.*`). YAML is not supported: `.migrc` is JSON.
 */
export const SEARCH_PLACES = [
  'package.json',
  '.migrc',
  '.migrc.json',
  '.migrc.js',
  '.migrc.ts',
  '.migrc.mjs',
  '.migrc.cjs',
  'mig.config.js',
  'mig.config.ts',
  'mig.config.mjs',
  'mig.config.cjs',
  'mig.config.mts',
  'mig.config.json',
] as const;

/**
 * A config file that could not be read: a syntax error, with its 1-based position (in the file, or in a module
 * it imports), or a failure to load.
 */
export class ConfigFileError extends Error {
  constructor(
    readonly filepath: string,
    readonly reason: string,
    readonly position?: { readonly file: string; readonly line: number; readonly column: number },
  ) {
    super(reason);
    this.name = 'ConfigFileError';
  }
}

const loadJson: Loader = (filepath, content) => {
  const result = parseJson(content);
  if (result.ok) return result.value;
  const { line, column, reason } = result.problem;
  throw new ConfigFileError(filepath, `JSON syntax error: ${reason}`, { file: filepath, line, column });
};

let jiti: Jiti | undefined;

/**
 * jiti transpiles TypeScript (and ESM for `require`) with its bundled Babel, so TypeScript config files load
 * without the TypeScript compiler API, which TypeScript 7 no longer has.
 * Loaded only when a JavaScript or TypeScript config file is found: a start-up without one never pays for it.
 */
async function getJiti(): Promise<Jiti> {
  const { createJiti } = await import('jiti');
  jiti ??= createJiti(import.meta.url, {
    // A config file is read once per process; caching transpiled output on disk would only leave files behind.
    fsCache: false,
    moduleCache: false,
    // The loader is @mig/config itself, so `import { defineConfig } from '@mig/config'` works in a config file
    // even where the package is not resolvable from the file (a monorepo root, a temp folder).
    virtualModules: {
      '@mig/config': { defineConfig, DEFAULTS, ENV, parseBoolean, parseDuration, redactUrl },
    },
  });
  return jiti;
}

// jiti reports Babel syntax errors as "<Name>: <reason> \n <file>:<line>:<column>", the column 0-based.
const JITI_SYNTAX_ERROR = /^(?:\w+: )?(?<reason>[^\n]*?)\s*\n\s*(?<file>.+):(?<line>\d+):(?<column>\d+)\s*$/;

const loadModule: Loader = async (filepath) => {
  let loaded: unknown;
  try {
    loaded = await (await getJiti()).import(filepath, { default: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const match = JITI_SYNTAX_ERROR.exec(message);
    if (match?.groups) {
      const { reason = '', file = filepath, line = '1', column = '0' } = match.groups;
      const kind = /\.[cm]?tsx?$/.test(file) ? 'TypeScript' : 'JavaScript';
      throw new ConfigFileError(filepath, `${kind} syntax error: ${redactText(reason)}`, {
        file,
        line: Number(line),
        column: Number(column) + 1,
      });
    }
    // Only the first line: later ones may be a code frame that quotes the file, secrets included.
    const name = error instanceof Error && error.name !== 'Error' ? `${error.name}: ` : '';
    throw new ConfigFileError(filepath, `failed to load: ${name}${redactText(message.split('\n')[0] ?? '')}`);
  }
  // `module.exports` comes back as the default export; a module with named exports only, as its namespace.
  return loaded;
};

export const LOADERS = {
  '.json': loadJson,
  noExt: loadJson,
  '.js': loadModule,
  '.mjs': loadModule,
  '.cjs': loadModule,
  '.ts': loadModule,
  '.mts': loadModule,
  '.cts': loadModule,
} as const satisfies Record<string, Loader>;

export function isLoadable(filepath: string): boolean {
  const extension = extname(filepath);
  return (extension === '' ? 'noExt' : extension) in LOADERS;
}
