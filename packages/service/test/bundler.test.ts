import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type PackedProject, packedProject } from '../../../test/support/packed.js';
import { createTestDatabase, type TestDatabase } from '../../../test/support/postgres.js';
import { runNode } from '../../../test/support/processes.js';

const exec = promisify(execFile);

// A service bundled as serverless platforms bundle it (esbuild --bundle --platform=node --format=esm), from a
// project outside the repository that installed the packed packages with kysely and pg only: the optional
// drivers it does not use are missing there. The bundle carries its migrations (`mig bundle`) and pg, and runs
// from a folder that holds nothing but the one output file.

const ENTRY = [
  "import { createDatabase } from '@mig/service';",
  "import migrations from './migrations.bundle.js';",
  '',
  'const database = createDatabase<any>({ migrations });',
  'try {',
  '  const db = await database.ensureInitialized();',
  "  const rows = await db.selectFrom('todos').select(['title', 'done']).execute();",
  "  console.log('todos', JSON.stringify(rows));",
  '} finally {',
  '  await database.close();',
  '}',
  '',
].join('\n');

/** A SQL migration, a TypeScript one that imports from kysely, and one that runs outside a transaction. */
const MIGRATIONS = {
  '20260101000000_create_todos.sql': 'create table todos (id serial primary key, title text not null);\n',
  '20260102000000_add_done.ts': [
    "import { type Kysely, sql } from 'kysely';",
    '',
    'export async function up(db: Kysely<any>): Promise<void> {',
    "  await db.schema.alterTable('todos').addColumn('done', 'boolean', (c) => c.notNull().defaultTo(false)).execute();",
    "  await sql`insert into todos (title) values ('bundled')`.execute(db);",
    '}',
    '',
  ].join('\n'),
  '20260103000000_index_open.sql': '-- mig:no-transaction\ncreate index concurrently todos_open on todos (done);\n',
};

const REQUIRE_BANNER =
  "import { createRequire as bannerCreateRequire } from 'node:module'; const require = bannerCreateRequire(import.meta.url);";

let project: PackedProject;
let bundleFile: string;
let warnings: string[] = [];
const databases: TestDatabase[] = [];
const folders: string[] = [];

beforeAll(async () => {
  project = await packedProject('bundler', ['kysely', 'pg']);
  const { dir } = project;
  await mkdir(join(dir, 'migrations'));
  for (const [file, text] of Object.entries(MIGRATIONS)) await writeFile(join(dir, 'migrations', file), text);
  await writeFile(join(dir, 'main.ts'), ENTRY);
  // The installed `mig`, as the project's build script would run it.
  await exec(join(dir, 'node_modules', '.bin', 'mig'), ['bundle', '--out', 'migrations.bundle.ts'], { cwd: dir });
  const result = await build({
    absWorkingDir: dir,
    entryPoints: ['main.ts'],
    outfile: 'out/main.mjs',
    bundle: true,
    platform: 'node',
    format: 'esm',
    external: ['pg-native'],
    // pg is CommonJS and requires Node's built-ins, which an ES module has no `require` for: esbuild's usual
    // banner gives it one (pg's need, as any CommonJS package's in an ESM bundle; named apart from the
    // bundle's own imports).
    banner: { js: REQUIRE_BANNER },
    logLevel: 'silent',
  });
  warnings = result.warnings.map((w) => w.text);
  bundleFile = join(dir, 'out', 'main.mjs');
}, 600_000);

afterAll(async () => {
  for (const database of databases) await database.drop();
  for (const folder of folders) await rm(folder, { recursive: true, force: true });
  await project?.dispose();
});

/** Runs the bundle from an empty folder: only the output file is there, no node_modules, no migrations. */
async function runAlone(env: Record<string, string>) {
  const folder = await mkdtemp(join(tmpdir(), 'mig-bundled-run-'));
  folders.push(folder);
  await copyFile(bundleFile, join(folder, 'main.mjs'));
  expect(await readdir(folder)).toEqual(['main.mjs']);
  return runNode(join(folder, 'main.mjs'), [], {
    cwd: folder,
    env: { NODE_ENV: '', AUTO_MIGRATE: '', ...env },
    timeoutMs: 60_000,
  });
}

describe('a service bundled with esbuild', () => {
  it('builds with --external:pg-native alone, the missing drivers left as imports that fail only when used', async () => {
    // The build above threw on any error; what it left unbundled is what was not installed.
    expect(warnings).toEqual([]);
    const text = await readFile(bundleFile, 'utf8');
    for (const driver of ['mysql2', 'better-sqlite3', '@electric-sql/pglite']) {
      expect(text).toContain(`import("${driver}")`);
    }
    // pg, installed and used, is inside.
    expect(text).not.toMatch(/import\("pg"\)|from "pg"/);
  });

  it('runs from a folder holding only its output: migrates a fresh PostgreSQL database and serves', async () => {
    const pg = await createTestDatabase('bundled');
    databases.push(pg);
    const result = await runAlone({ DATABASE_URL: pg.url });
    expect(result.stderr).not.toMatch(/error/i);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('todos [{"title":"bundled","done":false}]');
    const { rows } = await pg.query<{ name: string }>('select name from mig_migrations order by name');
    expect(rows.map((r) => r.name)).toEqual([
      '20260101000000_create_todos',
      '20260102000000_add_done',
      '20260103000000_index_open',
    ]);
  });

  it('names the driver to install when a database URL needs one that is not there', async () => {
    const result = await runAlone({ DATABASE_URL: 'mysql://root@127.0.0.1:3306/nowhere' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(
      'This database URL needs the package "mysql2", which is not installed. Install it (npm install mysql2) and run again.',
    );
  });
});
