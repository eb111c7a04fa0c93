import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { computeChecksum } from '@mig/core/adapter';
import { afterEach, describe, expect, it } from 'vitest';
import { createFolderSource } from '../../src/index.js';
import { loadError } from './load-error.js';

const dirs: string[] = [];
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-src-'));
  dirs.push(dir);
  for (const [name, content] of Object.entries(files)) {
    await mkdir(join(dir, name, '..'), { recursive: true });
    await writeFile(join(dir, name), content);
  }
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('createFolderSource', () => {
  it('loads .sql, .ts, .js and .mjs files sorted by name, ignoring other files', async () => {
    const dir = await folder({
      '003_c.mjs': 'export async function up() {}\n',
      '001_a.sql': 'create table a (id int);\n',
      '002_b.ts': 'export async function up(db: unknown): Promise<void> {}\n',
      '004_d.js': 'export async function up() {}\nexport const transactional = false;\n',
      'README.md': '# notes',
      'types.d.ts': 'export {};',
      '.hidden.sql': 'select 1;',
      'nested/005_e.sql': 'select 1;',
    });
    const migrations = await createFolderSource(dir).load();
    expect(migrations.map((m) => m.name)).toEqual(['001_a', '002_b', '003_c', '004_d']);
    expect(migrations[0]?.checksum).toBe(computeChecksum('create table a (id int);\n'));
    expect(migrations[0]?.sql).toBe('create table a (id int);');
    const modules = await Promise.all(migrations.map((m) => m.load()));
    expect(modules.map((m) => m.transactional)).toEqual([true, true, true, false]);
    expect(modules.every((m) => typeof m.up === 'function')).toBe(true);
  });

  it('rejects a folder that does not exist, saying how to fix it', async () => {
    const error = await loadError(() => createFolderSource('/nonexistent/mig-migrations').load());
    expect(error.message).toContain('/nonexistent/mig-migrations does not exist');
    expect(error.message).toContain('Create it, or point the source at the right folder');
    expect(error.context).toMatchObject({ reason: 'missing-folder' });
  });

  it('rejects an empty folder and one with no migration files', async () => {
    const empty = await folder({});
    expect((await loadError(() => createFolderSource(empty).load())).message).toMatch(/No migrations in .*Add one/);
    const others = await folder({ 'notes.txt': 'x' });
    expect((await loadError(() => createFolderSource(others).load())).message).toContain('found notes.txt');
  });

  it('rejects a path that is a file', async () => {
    const dir = await folder({ 'file.sql': 'select 1;' });
    expect((await loadError(() => createFolderSource(join(dir, 'file.sql')).load())).message).toContain(
      'is a file, not a folder',
    );
  });

  it('rejects an unreadable migration file, naming it', async () => {
    const dir = await folder({ '001_a.sql': 'select 1;' });
    await symlink(join(dir, 'nowhere.sql'), join(dir, '002_dangling.sql'));
    const error = await loadError(() => createFolderSource(dir).load());
    expect(error.message).toMatch(/Cannot read migration file .*002_dangling\.sql: ENOENT/);
    const withDir = await folder({ '001_a.sql': 'select 1;', '002_dir.sql/x': '' });
    expect((await loadError(() => createFolderSource(withDir).load())).message).toMatch(/002_dir\.sql: EISDIR/);
  });

  it('rejects two files with the same name stem', async () => {
    const dir = await folder({
      '001_a.sql': 'select 1;',
      '001_a.ts': 'export async function up() {}',
      '002_b.sql': 'select 2;',
    });
    const error = await loadError(() => createFolderSource(dir).load());
    expect(error.message).toContain('001_a.sql and 001_a.ts');
  });

  it('rejects, when loaded, a module that exports no up function', async () => {
    const dir = await folder({ '001_a.ts': 'export const down = async () => {};\n' });
    const [migration] = await createFolderSource(dir).load();
    const error = await loadError(() => migration?.load() ?? Promise.resolve());
    expect(error.message).toMatch(/Migration "001_a" \(.*001_a\.ts\) exports no up function/);
  });

  it('rejects, when loaded, a module that fails to import, with the cause', async () => {
    const dir = await folder({ '001_a.mjs': 'export async function up( {\n' });
    const [migration] = await createFolderSource(dir).load();
    const error = await loadError(() => migration?.load() ?? Promise.resolve());
    expect(error.message).toContain('Cannot load migration "001_a"');
    expect(error.cause).toBeInstanceOf(Error);
  });

  it('reads a SQL file with only comments as a migration that does nothing, and its comment-only down too', async () => {
    const dir = await folder({ '001_a.sql': '-- nothing here yet\n-- mig:down\n-- nothing to undo\n' });
    const [migration] = await createFolderSource(dir).load();
    const module = await migration?.load();
    expect(module?.sql).toBeUndefined();
    expect(module?.down).toBeTypeOf('function');
    await expect(module?.up({} as never)).resolves.toBeUndefined();
  });

  it("sees knex's .cjs and .cts files as code migrations", async () => {
    const dir = await folder({
      '001_a.cjs': 'exports.up = async function up() {};\nexports.down = async function down() {};\n',
      '002_b.cts': 'export async function up(): Promise<void> {}\n',
    });
    const migrations = await createFolderSource(dir).load();
    expect(migrations.map((m) => m.name)).toEqual(['001_a', '002_b']);
    const cjs = await migrations[0]?.load();
    expect(cjs?.up).toBeTypeOf('function');
    expect(cjs?.down).toBeTypeOf('function');
  });

  it('accepts a default export object', async () => {
    const dir = await folder({ '001_a.mjs': 'export default { async up() {}, transactional: false };\n' });
    const [migration] = await createFolderSource(dir).load();
    expect((await migration?.load())?.transactional).toBe(false);
  });
});
