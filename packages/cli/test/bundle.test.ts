import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mig, type Workspace, workspace } from './support.js';

// `mig bundle` writes one module holding the folder's migrations; `mig verify --bundle` says when the folder
// has moved on since; and the database cannot tell a bundle from the folder it was written from.

const FILES = {
  '001_todos.sql': 'create table todos (id serial primary key, title text not null);\n-- mig:down\ndrop table todos;\n',
  '002_done.ts': [
    "import type { Kysely } from 'kysely';",
    '',
    'export async function up(db: Kysely<any>): Promise<void> {',
    "  await db.schema.alterTable('todos').addColumn('done', 'boolean').execute();",
    '}',
    '',
  ].join('\n'),
  '003_index.sql': '-- mig:no-transaction\ncreate index concurrently todos_done on todos (done);\n',
};

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function project(): Promise<Workspace> {
  const ws = await workspace(FILES);
  cleanups.push(() => ws.dispose());
  return ws;
}

describe('mig bundle', () => {
  it('writes one module: SQL inlined, code imported from its folder, and says what it wrote', async () => {
    const ws = await project();
    const result = await mig(['bundle', '--out', 'src/migrations.bundle.ts'], { cwd: ws.dir });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(
      'Wrote src/migrations.bundle.ts: 3 migration(s) from migrations (2 SQL inlined, 1 code imported)',
    );
    const text = await readFile(join(ws.dir, 'src', 'migrations.bundle.ts'), 'utf8');
    expect(text).toContain('import * as migration1 from "../migrations/002_done.js";');
    expect(text).toContain('sql: "-- mig:no-transaction\\ncreate index concurrently todos_done on todos (done);\\n"');
    expect(text).toContain('mig bundle --migrations migrations --out src/migrations.bundle.ts');
    expect(text.trimEnd().endsWith('} as const;')).toBe(true);

    const json = (await mig(['bundle', '--out', 'out/bundle.mjs', '--json'], { cwd: ws.dir })).json();
    expect(json).toMatchObject({ ok: true, exitCode: 0, layout: 'mig', migrations: 3, code: 1 });
    expect(await readFile(join(ws.dir, 'out', 'bundle.mjs'), 'utf8')).toContain(
      'import * as migration1 from "../migrations/002_done.ts";',
    );
  });

  it('exits 2 and says why: no migrations folder, an out path it cannot write, a layout it cannot bundle', async () => {
    const ws = await project();
    const missing = await mig(['bundle', '--migrations', 'nowhere', '--out', 'b.js'], { cwd: ws.dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/Cannot bundle the migrations: The migrations folder .*nowhere does not exist/);

    await mkdir(join(ws.dir, 'locked'));
    await chmod(join(ws.dir, 'locked'), 0o500);
    cleanups.push(() => chmod(join(ws.dir, 'locked'), 0o700));
    const unwritable = await mig(['bundle', '--out', 'locked/b.js'], { cwd: ws.dir });
    // root writes anywhere: then the folder-as-file case stands in for an unwritable path.
    if (process.getuid?.() === 0) {
      await writeFile(join(ws.dir, 'a-file'), '');
      const blocked = await mig(['bundle', '--out', 'a-file/b.js'], { cwd: ws.dir });
      expect(blocked.code).toBe(2);
      expect(blocked.stderr).toContain('Cannot write the bundle a-file/b.js');
    } else {
      expect(unwritable.code).toBe(2);
      expect(unwritable.stderr).toContain('Cannot write the bundle locked/b.js: permission denied');
    }

    const inside = await mig(['bundle', '--out', 'migrations/bundle.js'], { cwd: ws.dir });
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain('where it would be read as a migration');

    await ws.write('004_extra.go', 'package migrations\n');
    await ws.write('004_extra.sql', '-- +goose Up\ncreate table extra (id int);\n');
    const layout = await mig(['bundle', '--out', 'b.js'], { cwd: ws.dir });
    expect(layout.code).toBe(2);
    expect(layout.stderr).toContain('Cannot bundle the migrations:');
  });

  it('needs --out', async () => {
    const ws = await project();
    const result = await mig(['bundle'], { cwd: ws.dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("required option '--out <file>' not specified");
  });
});

describe('mig verify --bundle', () => {
  it('passes on a fresh bundle and exits 4 naming what was added, removed and changed since', async () => {
    const ws = await project();
    expect((await mig(['bundle', '--out', 'src/migrations.bundle.ts'], { cwd: ws.dir })).code).toBe(0);
    const fresh = await mig(['verify', '--bundle', 'src/migrations.bundle.ts'], { cwd: ws.dir });
    expect(fresh.stderr).toBe('');
    expect(fresh.code).toBe(0);
    expect(fresh.stdout).toContain('src/migrations.bundle.ts holds the 3 migration(s) of migrations, unchanged');

    await ws.write('001_todos.sql', `${FILES['001_todos.sql']}-- edited\n`);
    await rm(join(ws.migrations, '003_index.sql'));
    await ws.write('004_more.sql', 'create table more (id int);\n');
    const stale = await mig(['verify', '--bundle', 'src/migrations.bundle.ts'], { cwd: ws.dir });
    expect(stale.code).toBe(4);
    expect(stale.stdout).toContain('src/migrations.bundle.ts is stale');
    expect(stale.stdout).toContain('+ added: 004_more');
    expect(stale.stdout).toContain('- removed: 003_index');
    expect(stale.stdout).toContain('~ changed: 001_todos');
    expect(stale.stdout).toContain('Write it again: mig bundle --migrations migrations --out src/migrations.bundle.ts');
    const json = (await mig(['verify', '--bundle', 'src/migrations.bundle.ts', '--json'], { cwd: ws.dir })).json();
    expect(json).toMatchObject({
      ok: false,
      exitCode: 4,
      added: ['004_more'],
      removed: ['003_index'],
      changed: ['001_todos'],
      reordered: false,
    });

    // A changed code migration is seen too.
    expect((await mig(['bundle', '--out', 'src/migrations.bundle.ts'], { cwd: ws.dir })).code).toBe(0);
    await ws.write('002_done.ts', `${FILES['002_done.ts']}// edited\n`);
    const code = await mig(['verify', '--bundle', 'src/migrations.bundle.ts', '--json'], { cwd: ws.dir });
    expect(code.json()).toMatchObject({ exitCode: 4, changed: ['002_done'], added: [], removed: [] });
  });

  it('compares with the folder the bundle was written from, unless another is configured', async () => {
    const ws = await project();
    await mkdir(join(ws.dir, 'db'));
    await writeFile(join(ws.dir, 'db', '001_other.sql'), 'create table other (id int);\n');
    const args = ['bundle', '--migrations', 'db', '--out', 'src/b.mjs'];
    expect((await mig(args, { cwd: ws.dir })).code).toBe(0);
    const own = await mig(['verify', '--bundle', 'src/b.mjs'], { cwd: ws.dir });
    expect(own.stdout).toContain('src/b.mjs holds the 1 migration(s) of db, unchanged');
    expect(own.code).toBe(0);
    const other = await mig(['verify', '--bundle', 'src/b.mjs', '--migrations', 'migrations', '--json'], {
      cwd: ws.dir,
    });
    expect(other.json()).toMatchObject({
      exitCode: 4,
      added: ['001_todos', '002_done', '003_index'],
      removed: ['001_other'],
      fix: 'mig bundle --migrations migrations --out src/b.mjs',
    });
  });

  it('exits 2 for a file that is missing or not a bundle', async () => {
    const ws = await project();
    const missing = await mig(['verify', '--bundle', 'nope.js'], { cwd: ws.dir });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('The bundle nope.js does not exist. Write it with `mig bundle --out nope.js`');
    await writeFile(join(ws.dir, 'other.mjs'), 'export default { hello: 1 };\n');
    const other = await mig(['verify', '--bundle', 'other.mjs'], { cwd: ws.dir });
    expect(other.code).toBe(2);
    expect(other.stderr).toContain('not a bundle written by `mig bundle` (got an object with hello)');
  });
});
