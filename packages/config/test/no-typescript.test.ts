import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempProject } from './temp-project.js';

const require = createRequire(import.meta.url);
const SOURCE = fileURLToPath(new URL('../src/index.ts', import.meta.url));

/**
 * Loads a TypeScript config in a child process where any attempt to load the `typescript` package throws:
 * `--require` traps CommonJS resolution, `--import` registers an ESM resolve hook that does the same. The
 * child runs our source through jiti (Babel, not TypeScript), so no build is needed.
 */
async function runTrapped(mode: 'mig' | 'typescript', dir: string): Promise<Record<string, unknown>> {
  const files = {
    'trap.cjs': `const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'typescript' || request.startsWith('typescript/')) throw new Error('TRAP: typescript was required');
  return resolve.call(this, request, ...rest);
};`,
    'hooks.mjs': `export async function resolve(specifier, context, next) {
  if (specifier === 'typescript' || specifier.startsWith('typescript/')) throw new Error('TRAP: typescript was imported');
  return next(specifier, context);
}`,
    'trap.mjs': `import { register } from 'node:module';
register('./hooks.mjs', import.meta.url);`,
    'run.mjs': `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const [mode, dir] = process.argv.slice(2);
try {
  let values;
  if (mode === 'mig') {
    const { createJiti } = require(${JSON.stringify(require.resolve('jiti'))});
    const { loadConfig } = await createJiti(import.meta.url, { fsCache: false }).import(${JSON.stringify(SOURCE)});
    values = (await loadConfig({ cwd: dir, env: {} })).values;
  } else {
    // What a loader that transpiles with the TypeScript compiler API does first.
    values = require('typescript').version;
  }
  const typescript = Object.keys(require.cache).filter((path) => /[\\\\/]typescript[\\\\/]/.test(path));
  console.log(JSON.stringify({ ok: true, values, typescript }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error?.message ?? error) }));
}`,
  };
  const harness = await tempProject(files);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      '--require',
      join(harness, 'trap.cjs'),
      '--import',
      join(harness, 'trap.mjs'),
      join(harness, 'run.mjs'),
      mode,
      dir,
    ],
    { env: { ...process.env, NODE_OPTIONS: '' }, timeout: 60_000 },
  );
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>;
}

describe('TypeScript config files load without the TypeScript compiler', () => {
  const config = `interface Settings { lockTimeout: string; schema: string }
const schema: string = 'typed';
export default { lockTimeout: '9s', schema } satisfies Settings;
`;

  it('loads mig.config.ts with typescript unloadable, and never loads it', async () => {
    const dir = await tempProject({ 'mig.config.ts': config });
    const result = await runTrapped('mig', dir);
    expect(result).toMatchObject({ ok: true, values: { lockTimeoutMs: 9_000, schema: 'typed' }, typescript: [] });
  });

  it('the trap works: loading the TypeScript compiler fails under it', async () => {
    const dir = await tempProject({ 'mig.config.ts': config });
    const result = await runTrapped('typescript', dir);
    expect(result).toMatchObject({ ok: false });
    expect(result.error).toMatch(/TRAP: typescript was (imported|required)/);
  });
});
