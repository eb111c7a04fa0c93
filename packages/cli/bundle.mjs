// Bundles the `mig` command into one file (dist/bin.js), so it starts like a script: one module to load
// instead of hundreds. What a command may not need stays outside and loads on first use: jiti (TypeScript
// migrations and config files), each engine's driver but PostgreSQL's, and the PostgreSQL parser of `mig lint`
// (WebAssembly it loads from beside itself). The library entry (dist/index.js)
// is left as tsc wrote it.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/bin.js'],
  outfile: 'dist/bin.js',
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: false,
  minify: true,
  keepNames: true,
  legalComments: 'none',
  external: [
    'jiti',
    'typescript',
    'pg-native',
    '@electric-sql/pglite',
    'mysql2',
    'better-sqlite3',
    '@libsql/client',
    'libpg-query',
  ],
  // Bundled CommonJS (pg, commander) requires Node's built-ins; give the ES module a `require` for them.
  banner: {
    js: "import { createRequire as __migRequire } from 'node:module';\nconst require = __migRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
