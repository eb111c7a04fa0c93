#!/usr/bin/env node
// Checks every publishable package as a user receives it: packed by `pnpm pack` (which swaps in
// `publishConfig.exports`, the map without the workspace-only "@mig/source" condition, and turns `workspace:`
// and `catalog:` ranges into versions), then
//   1. the packed manifest: no "@mig/source", no workspace or catalog range left, ESM-only fields, and every
//      source map's sources shipped (declaration maps point into `src/`, which is in `files`);
//   2. publint on the unpacked tarball (strict, every message counts, suggestions included);
//   3. attw on the tarball, profile esm-only (the packages are ESM only: no node10 or require resolution);
//   4. a smoke test of installability: a fresh npm project installs the tarballs with kysely and pg, the
//      README's `lib/database.ts` block type-checks under `tsc --strict` with NodeNext, runs against a fresh
//      PostgreSQL database (NODE_ENV unset: it applies ./migrations, one .sql and one .ts, and inserts a
//      row), and `npx mig status` works there; a second project installs the adapter alone, without jiti,
//      and a `.ts` migration then fails with an error naming the package to install.
// It builds nothing: run `pnpm build` (or `npm test`) first. Exits 1 with everything that was wrong.
// `--no-smoke` skips step 4; MIG_TEST_PG_URL points the smoke test at another server (default
// postgres://postgres@127.0.0.1:5432/postgres). The temporary folder is kept when something fails.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const smoke = !process.argv.includes('--no-smoke');
const work = mkdtempSync(join(tmpdir(), 'mig-packages-'));
const problems = [];

function log(message) {
  console.log(`check-packages: ${message}`);
}

function problem(where, message) {
  problems.push(`${where}: ${message}`);
  console.log(`  ✗ ${where}: ${message}`);
}

/** Runs a command; returns its status and combined output. Never throws. */
function run(command, args, options = {}) {
  const r = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...options });
  const output = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim();
  return { status: r.error ? -1 : r.status, output: r.error ? `${r.error.message}\n${output}` : output };
}

function indent(text) {
  return text
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n');
}

// ── the packages ──────────────────────────────────────────────────────────────────────────────────────────

const packages = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
  .filter(({ manifest }) => manifest.private !== true);

const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
for (const pkg of packages) {
  const name = pkg.manifest.name;
  log(`${name}`);
  if (!existsSync(join(pkg.dir, 'dist'))) {
    problem(name, `no dist/ in ${relative(root, pkg.dir)}: build first (pnpm build)`);
    continue;
  }
  const packed = run('pnpm', ['pack', '--pack-destination', tarballs, '--json'], { cwd: pkg.dir });
  if (packed.status !== 0) {
    problem(name, `pnpm pack failed:\n${indent(packed.output)}`);
    continue;
  }
  pkg.tarball = JSON.parse(packed.output.slice(packed.output.indexOf('{'))).filename;
  pkg.unpacked = join(work, 'unpacked', name.replace('/', '+'));
  mkdirSync(pkg.unpacked, { recursive: true });
  const untar = run('tar', ['-xzf', pkg.tarball, '-C', pkg.unpacked]);
  if (untar.status !== 0) {
    problem(name, `cannot unpack ${pkg.tarball}:\n${indent(untar.output)}`);
    continue;
  }
  pkg.unpacked = join(pkg.unpacked, 'package');
  checkManifest(pkg);
  checkMaps(pkg);
  await checkPublint(pkg);
  checkAttw(pkg);
}

/** What publint does not check: the workspace's own conventions, on the packed package.json. */
function checkManifest(pkg) {
  const name = pkg.manifest.name;
  const text = readFileSync(join(pkg.unpacked, 'package.json'), 'utf8');
  const manifest = JSON.parse(text);
  const before = problems.length;
  if (text.includes('@mig/source')) problem(name, 'the packed package.json still has the "@mig/source" condition');
  for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [dep, range] of Object.entries(manifest[field] ?? {})) {
      if (/^(workspace|catalog|link|file):/.test(range)) problem(name, `${field}.${dep} is "${range}" once packed`);
    }
  }
  if (manifest.type !== 'module') problem(name, '"type" is not "module"');
  if (manifest.sideEffects !== false) problem(name, '"sideEffects" is not false');
  if (manifest.engines?.node !== '>=20.19') problem(name, `engines.node is ${manifest.engines?.node}, not ">=20.19"`);
  if (!existsSync(join(pkg.unpacked, 'README.md'))) problem(name, 'the tarball has no README.md');
  for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
    if (dep in (manifest.peerDependencies ?? {})) problem(name, `${dep} is both a dependency (${range}) and a peer`);
  }
  if (problems.length === before) console.log('  ✓ packed manifest');
}

/** Every source map (declaration maps included) must point at files that are in the tarball. */
function checkMaps(pkg) {
  const name = pkg.manifest.name;
  const missing = new Set();
  let maps = 0;
  for (const file of walk(pkg.unpacked)) {
    if (!file.endsWith('.map')) continue;
    maps++;
    const map = JSON.parse(readFileSync(file, 'utf8'));
    for (const source of map.sources ?? []) {
      const target = resolve(dirname(file), map.sourceRoot ?? '', source);
      if (!existsSync(target)) missing.add(relative(pkg.unpacked, target));
    }
  }
  if (missing.size > 0) {
    problem(name, `source maps point at files the tarball lacks: ${[...missing].slice(0, 5).join(', ')}`);
  } else console.log(`  ✓ ${maps} source maps resolve inside the tarball`);
}

function* walk(dir) {
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}

async function checkPublint(pkg) {
  const name = pkg.manifest.name;
  // The unpacked tarball is exactly what is published, so publint reads it as is (no packing of its own).
  const result = await publint({ pkgDir: pkg.unpacked, pack: false, level: 'suggestion', strict: true });
  if (result.messages.length === 0) {
    console.log('  ✓ publint: no errors, warnings or suggestions');
    return;
  }
  for (const message of result.messages) {
    problem(name, `publint ${message.type}: ${formatMessage(message, result.pkg, { color: false }) ?? message.code}`);
  }
}

function checkAttw(pkg) {
  const name = pkg.manifest.name;
  const attw = join(root, 'node_modules', '.bin', 'attw');
  const r = run(attw, [pkg.tarball, '--profile', 'esm-only', '--no-color', '--no-emoji', '--format', 'table']);
  if (r.status === 0) console.log('  ✓ attw (esm-only): no problems');
  else problem(name, `attw (esm-only) found problems:\n${indent(r.output)}`);
}

// ── the smoke test: a fresh project installs the tarballs ─────────────────────────────────────────────────

/** The versions a user's project gets: the workspace's catalog ranges, so the test is repeatable. */
function catalogRange(dep) {
  const yaml = readFileSync(join(root, 'pnpm-workspace.yaml'), 'utf8');
  const line = yaml.split('\n').find((l) =>
    l
      .trim()
      .replace(/^"|"(?=:)/g, '')
      .startsWith(`${dep}:`),
  );
  if (!line) throw new Error(`${dep} is not in the pnpm catalog`);
  return line.slice(line.indexOf(':') + 1).trim();
}

/** The README's `lib/database.ts` blocks: the root README's "Use it in your service" and @mig/service's. */
function readmeBlocks() {
  const blocks = [];
  const sources = [
    ['README.md', '## Use it in your service'],
    ['packages/service/README.md', '## Example'],
  ];
  for (const [file, heading] of sources) {
    const text = readFileSync(join(root, file), 'utf8');
    const start = text.indexOf(`\n${heading}\n`);
    if (start === -1) continue;
    const block = /```ts\n([\s\S]*?)```/.exec(text.slice(start));
    if (block?.[1]?.startsWith('// lib/database.ts')) blocks.push({ file, code: block[1] });
  }
  return blocks.filter((b, i) => blocks.findIndex((o) => o.code === b.code) === i);
}

function npmProject(dir, name) {
  mkdirSync(dir, { recursive: true });
  const init = run('npm', ['init', '-y'], { cwd: dir });
  if (init.status !== 0) throw new Error(`npm init -y failed:\n${indent(init.output)}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ ...manifest, name, private: true, type: 'module' }, null, 2)}\n`,
  );
}

function npmInstall(dir, specs) {
  const r = run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], { cwd: dir });
  if (r.status !== 0) throw new Error(`npm install failed:\n${indent(r.output)}`);
  // Every @mig package must come from the tarballs, never from the registry.
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const fromRegistry = Object.entries(lock.packages)
    .filter(([path, entry]) => /node_modules\/@mig\/[^/]+$/.test(path) && !String(entry.resolved).startsWith('file:'))
    .map(([path]) => path);
  if (fromRegistry.length > 0) throw new Error(`npm looked for ${fromRegistry.join(', ')} outside the tarballs`);
  // What must be one copy (classes others `instanceof`, the OpenTelemetry API, the user's Kysely) is one copy.
  for (const single of ['@mig/core', '@opentelemetry/api', 'kysely']) {
    const copies = Object.keys(lock.packages).filter((path) => path.endsWith(`node_modules/${single}`));
    if (copies.length > 1) throw new Error(`${single} is installed ${copies.length} times: ${copies.join(', ')}`);
  }
  const installed = Object.keys(lock.packages).filter(
    (p) => p.startsWith('node_modules/') && !p.includes('/node_modules/', 1),
  );
  return installed.length;
}

/** The environment a user's shell would have: no NODE_ENV, none of mig's variables. */
function userEnv(extra) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !/^(NODE_ENV|AUTO_MIGRATE|MIGRATIONS?_|DATABASE_URL$)/.test(key)),
  );
  return { ...env, NO_COLOR: '1', ...extra };
}

function step(label, command, args, options, check = (r) => r.status === 0) {
  const r = run(command, args, options);
  console.log(`  $ ${[command, ...args].join(' ')}   (exit ${r.status})`);
  if (r.output) console.log(indent(r.output));
  if (!check(r)) throw new Error(`${label} failed (exit ${r.status})`);
  return r;
}

async function smokeTest() {
  const byName = new Map(packages.map((p) => [p.manifest.name, p.tarball]));
  const blocks = readmeBlocks();
  if (blocks.length === 0) throw new Error('no `// lib/database.ts` block in README.md or packages/service/README.md');

  const adminUrl = process.env.MIG_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const database = `mig_smoke_${process.pid}_${Date.now()}`;
  const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/${database}` }).href;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database "${database}"`);
    const app = join(work, 'app');
    npmProject(app, 'mig-smoke-app');
    const dev = ['kysely', 'pg', 'typescript', '@types/node'].map((d) => `${d}@${catalogRange(d)}`);
    const count = npmInstall(app, [...byName.values(), ...dev]);
    log(`smoke: installed ${byName.size} tarballs, ${dev.join(', ')} (${count} packages in node_modules)`);

    mkdirSync(join(app, 'lib'));
    mkdirSync(join(app, 'migrations'));
    writeFileSync(
      join(app, 'migrations', '20260101000000_create_todos.sql'),
      'create table todos (\n  id serial primary key,\n  title text not null,\n  done boolean not null default false\n);\n',
    );
    // A TypeScript migration too: @mig/service brings jiti, the adapter's optional peer, so it loads.
    writeFileSync(
      join(app, 'migrations', '20260102000000_index_open_todos.ts'),
      [
        "import type { Kysely } from 'kysely';",
        '',
        'export async function up(db: Kysely<any>): Promise<void> {',
        "  await db.schema.createIndex('todos_open').on('todos').column('done').execute();",
        '}',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'main.ts'),
      [
        "import { ensureInitialized } from './lib/database.js';",
        '',
        'const db = await ensureInitialized();',
        'const todo = await db',
        "  .insertInto('todos')",
        "  .values({ id: 1, title: 'installed from the tarballs', done: false })",
        '  .returningAll()',
        '  .executeTakeFirstOrThrow();',
        "console.log('inserted', JSON.stringify(todo));",
        'await db.destroy();',
        '',
      ].join('\n'),
    );
    const tsconfig = {
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        // The packages' declarations are checked too, not only the user's code.
        skipLibCheck: false,
        noEmit: true,
        outDir: 'dist',
      },
      include: ['lib', 'main.ts'],
    };
    writeFileSync(join(app, 'tsconfig.json'), `${JSON.stringify(tsconfig, null, 2)}\n`);
    const tsc = join(app, 'node_modules', '.bin', 'tsc');
    for (const block of blocks) {
      writeFileSync(join(app, 'lib', 'database.ts'), block.code);
      log(`smoke: lib/database.ts is the block of ${block.file}; type-check under --strict, NodeNext`);
      step('tsc', tsc, ['-p', '.'], { cwd: app });
    }
    step('tsc (emit)', tsc, ['-p', '.', '--noEmit', 'false'], { cwd: app });

    const env = userEnv({ DATABASE_URL: databaseUrl });
    log(`smoke: run it on a fresh database (${database}), NODE_ENV unset`);
    step(
      'the app',
      'node',
      ['dist/main.js'],
      { cwd: app, env, timeout: 120_000 },
      (r) =>
        r.status === 0 && r.output.includes('inserted {"id":1,"title":"installed from the tarballs","done":false}'),
    );
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const { rows } = await client.query('select title from todos').finally(() => client.end());
    if (rows.length !== 1) throw new Error(`todos holds ${rows.length} rows after the run, not 1`);
    log('smoke: the CLI from the same project');
    step(
      'npx mig status',
      'npx',
      ['--no', 'mig', 'status'],
      { cwd: app, env },
      (r) =>
        r.status === 0 &&
        /Applied \(2\)[\s\S]*_create_todos[\s\S]*_index_open_todos[\s\S]*Pending \(0\)/.test(r.output),
    );

    // The adapter alone: jiti is an optional peer, so SQL migrations load without it and a .ts migration
    // says what to install.
    const bare = join(work, 'adapter-alone');
    npmProject(bare, 'mig-smoke-adapter');
    const coreSet = ['@mig/core', '@mig/lock', '@mig/kysely-adapter'].map((n) => byName.get(n));
    npmInstall(bare, [...coreSet, `kysely@${catalogRange('kysely')}`, `pg@${catalogRange('pg')}`]);
    if (existsSync(join(bare, 'node_modules', 'jiti'))) throw new Error('jiti was installed with the adapter alone');
    mkdirSync(join(bare, 'migrations'));
    writeFileSync(join(bare, 'migrations', '001_a.sql'), 'create table a (id int);\n');
    writeFileSync(join(bare, 'migrations', '002_b.ts'), 'export async function up(): Promise<void> {}\n');
    writeFileSync(
      join(bare, 'check.js'),
      [
        "import { createFolderSource } from '@mig/kysely-adapter';",
        '',
        "const [sqlMigration, tsMigration] = await createFolderSource('./migrations').load();",
        'await sqlMigration.load();',
        "console.log('the .sql migration loads without jiti');",
        'try {',
        '  await tsMigration.load();',
        "  console.log('the .ts migration loaded without jiti?');",
        '} catch (error) {',
        "  console.log('the .ts migration:', error.name, error.message);",
        '}',
        '',
      ].join('\n'),
    );
    log('smoke: the adapter installed alone, without jiti');
    step(
      'adapter without jiti',
      'node',
      ['check.js'],
      { cwd: bare },
      (r) => r.status === 0 && r.output.includes('loads without jiti') && r.output.includes('npm install jiti'),
    );
  } finally {
    await admin.query(`drop database if exists "${database}" with (force)`).catch(() => {});
    await admin.end();
  }
}

if (smoke && problems.length === 0) {
  log('smoke test: a fresh npm project with the packed packages');
  try {
    await smokeTest();
    console.log('  ✓ smoke test');
  } catch (error) {
    problem('smoke test', error instanceof Error ? error.message : String(error));
  }
} else if (smoke) {
  log('smoke test skipped: the packages above must pass first');
}

if (problems.length > 0) {
  console.error(`\ncheck-packages: FAILED (${problems.length} problem(s)); files kept in ${work}`);
  for (const p of problems) console.error(`  - ${p.split('\n')[0]}`);
  process.exit(1);
}
rmSync(work, { recursive: true, force: true });
log(
  `all ${packages.length} packages are clean (publint, attw esm-only)${smoke ? ' and install in a fresh project' : ''}`,
);
