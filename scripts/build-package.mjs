#!/usr/bin/env node
// Builds one library package (run in its folder): the declarations and their maps with tsc, and each entry of
// its `exports` as an ES module bundled by esbuild, with the modules that entries share in chunks (one copy
// of each class, so `instanceof` holds across entries) and a source map that points into `src/` (which the
// package ships). A process then loads a handful of files per package instead of one per source module: the
// cold start of a service is mostly module loading. Every import of another package stays an import (each
// @mig package, kysely, the drivers, loaded on first use as before), and so does each dynamic import of an
// engine's folder, which becomes a chunk loaded only when that engine is used.
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const cwd = process.cwd();
const pkg = JSON.parse(readFileSync(join(cwd, 'package.json'), 'utf8'));
// esbuild is a dev dependency of the workspace root; resolve it from there, whatever the package.
const { build } = createRequire(import.meta.url)('esbuild');

/** `dist/<out>.js` ← `src/<in>.ts`, read from the exports' `@mig/source` and `default` conditions. */
const entryPoints = {};
for (const target of Object.values(pkg.exports)) {
  if (typeof target !== 'object' || target['@mig/source'] === undefined) continue;
  const out = target.default.replace(/^\.\/dist\//, '').replace(/\.js$/, '');
  entryPoints[out] = target['@mig/source'];
}

rmSync(join(cwd, 'dist'), { recursive: true, force: true });
// The package's own TypeScript, as `tsc` in its scripts would be.
const tscBin = createRequire(join(cwd, 'package.json')).resolve('typescript/bin/tsc');
const tsc = spawnSync(process.execPath, [tscBin, '-p', 'tsconfig.build.json', '--emitDeclarationOnly'], {
  cwd,
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

await build({
  absWorkingDir: cwd,
  entryPoints,
  outdir: 'dist',
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  sourcesContent: false,
  legalComments: 'inline',
  logLevel: 'warning',
});
