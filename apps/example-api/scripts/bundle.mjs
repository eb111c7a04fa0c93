#!/usr/bin/env node
// The bundled build of the example API: one file, `dist-bundle/server.mjs`, that runs from any folder with
// nothing beside it. First `mig bundle` writes the migrations of `migrations/` into `src/migrations.bundle.ts`
// (SQL inlined, code imported), then esbuild bundles `src/bundled.ts` with everything it imports, the way
// serverless platforms bundle a function. Run it with DATABASE_URL set (PGlite needs its WebAssembly files
// beside it, so the bundled build does not fall back to it).
//
//   node scripts/bundle.mjs [--outdir DIR]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const app = join(dirname(fileURLToPath(import.meta.url)), '..');
const root = join(app, '..', '..');
const at = process.argv.indexOf('--outdir');
const outdir = at === -1 ? join(app, 'dist-bundle') : resolve(process.argv[at + 1] ?? '');

// The workspace's own `mig` (the root's `pnpm mig`), as a project would run its installed one.
const mig = spawnSync(
  process.execPath,
  [
    join(root, 'packages', 'cli', 'dist', 'bin.js'),
    'bundle',
    '--migrations',
    'migrations',
    '--out',
    'src/migrations.bundle.ts',
  ],
  { cwd: app, stdio: 'inherit' },
);
if (mig.status !== 0) process.exit(mig.status ?? 1);

// esbuild is a dev dependency of the workspace root.
const { build } = createRequire(join(root, 'package.json'))('esbuild');
const result = await build({
  absWorkingDir: app,
  entryPoints: ['src/bundled.ts'],
  outfile: join(outdir, 'server.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // What pg itself needs: its optional native binding is never installed here; and, being CommonJS, a
  // `require` for Node's built-ins, which an ES module lacks (named apart from the bundle's own imports).
  external: ['pg-native'],
  banner: {
    js: "import { createRequire as bannerCreateRequire } from 'node:module'; const require = bannerCreateRequire(import.meta.url);",
  },
  logLevel: 'warning',
  // The workspace's packages are linked, not installed, so esbuild shows what it hides inside node_modules:
  // the ordering imports between the packages' own chunks (declarations only), dropped under
  // "sideEffects": false as they may be.
  logOverride: { 'ignored-bare-import': 'silent' },
  metafile: true,
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
console.log(`bundle: wrote ${join(outdir, 'server.mjs')} (${(bytes / 1024 / 1024).toFixed(1)} MB)`);
