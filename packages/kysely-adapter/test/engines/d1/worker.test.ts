import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Miniflare } from 'miniflare';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runNode } from '../../../../../test/support/processes.js';
import { isUserTable } from '../../support/d1.js';
import {
  bundleWorker,
  DATABASE_ID,
  requestWorker as request,
  readD1 as rows,
  startWorkers as workers,
} from '../../support/d1-worker.js';

// A real Worker (test/fixtures/d1-worker/worker.ts, bundled by esbuild for workerd as wrangler would) that
// calls ensureInitialized() in its fetch handler, on a D1 binding, run by miniflare: the Worker four times over
// (four isolates) on one D1 database, with many concurrent requests (half of them with a database service
// of their own, as a fresh isolate would make), and the `mig` command on the same local D1.

const WORKER = fileURLToPath(new URL('../../fixtures/d1-worker/worker.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../../../cli/dist/bin.js', import.meta.url));
/** A project that has miniflare installed, as a Worker's project would: the command finds it there. */
const PROJECT = fileURLToPath(new URL('../../..', import.meta.url));

const RACED = `export default [
  { name: '001_notes', sql: "create table notes (id integer primary key, body text not null);\\ncreate table audit (migration text not null);\\ninsert into audit (migration) values ('001_notes');" },
  {
    name: '002_tags',
    checksum: 'b03eae3a27c139a115402a15b1fb1b316fb20af70330ddec7aedeeb0f95b49bd',
    async up(db) {
      await db.schema.createTable('tags').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
      await db.insertInto('audit').values({ migration: '002_tags' }).execute();
    },
  },
  { name: '003_note_body', sql: "create index notes_body on notes (body);\\ninsert into audit (migration) values ('003_note_body');" },
];
`;

const GOOD = {
  '001_notes.sql': 'create table notes (id integer primary key, body text not null);\n',
  '002_doomed.sql': 'create table doomed (id integer);\ninsert into doomed (id) values (1);\n',
};
const BROKEN = {
  ...GOOD,
  '002_doomed.sql': 'create table doomed (id integer);\ninsert into nowhere (id) values (1);\n',
};

/** A folder of SQL files as an in-code list. */
const listOf = (files: Record<string, string>) =>
  `export default ${JSON.stringify(
    Object.entries(files).map(([file, sql]) => ({ name: file.replace(/\.sql$/, ''), sql })),
  )};\n`;

describe('a Worker that migrates its D1 database in its fetch handler', () => {
  let dir: string;
  let persist: string;
  const running: Miniflare[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mig-d1-worker-'));
    persist = join(dir, 'd1');
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((mf) => mf.dispose().catch(() => {})));
    await rm(dir, { recursive: true, force: true });
  });

  it('applies each migration exactly once under concurrent requests across isolates', {
    timeout: 180_000,
  }, async () => {
    const mf = await workers(await bundleWorker(WORKER, dir, RACED), persist, 4);
    running.push(mf);
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, i) => request(mf, i % 2 === 0 ? '/?isolate' : '/', i % 4)),
    );
    for (const answer of answers) {
      expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 200, body: { ok: true, applied: 3 } });
    }
    const audit = await rows<{ migration: string; n: number }>(
      persist,
      'select migration, count(*) as n from audit group by migration order by migration',
    );
    expect(audit).toEqual([
      { migration: '001_notes', n: 1 },
      { migration: '002_tags', n: 1 },
      { migration: '003_note_body', n: 1 },
    ]);
    const records = await rows<{ name: string }>(persist, 'select name from mig_migrations order by id');
    expect(records.map((r) => r.name)).toEqual(['001_notes', '002_tags', '003_note_body']);
    // The lease was let go by whoever held it last.
    const [lease] = await rows<{ owner: string | null }>(persist, 'select owner from mig_migrations_lock');
    expect(lease?.owner).toBeNull();
  });

  it('reports a failing migration on every request and leaves nothing of it; `mig status` reads the same D1', {
    timeout: 180_000,
  }, async () => {
    const broken = await workers(await bundleWorker(WORKER, dir, listOf(BROKEN)), persist);
    running.push(broken);
    const answers = await Promise.all(Array.from({ length: 8 }, () => request(broken)));
    for (const answer of answers) {
      expect(answer.status).toBe(503);
      expect(answer.body.code).toBe('MIGRATION_FAILED');
      expect(answer.body.message).toContain('002_doomed');
      expect(answer.body.message).toMatch(/no such table: nowhere/);
    }
    const tables = (await rows<{ name: string }>(persist, "select name from sqlite_master where type = 'table'"))
      .map((r) => r.name)
      .filter(isUserTable);
    expect(tables).toContain('notes');
    expect(tables).not.toContain('doomed');
    const records = await rows<{ name: string }>(persist, 'select name from mig_migrations order by id');
    expect(records.map((r) => r.name)).toEqual(['001_notes']);

    // The command line, on the same local D1, with the folder the list was made from.
    await broken.dispose();
    const folder = join(dir, 'migrations');
    await mkdir(folder);
    for (const [file, text] of Object.entries(BROKEN)) await writeFile(join(folder, file), text);
    const url = `d1:${persist}?binding=DB&id=${DATABASE_ID}`;
    const status = await runNode(CLI, ['status', '--json', '--url', url, '--migrations', folder], {
      cwd: PROJECT,
      env: { NO_COLOR: '1', DATABASE_URL: '', NODE_ENV: '' },
      timeoutMs: 60_000,
    });
    expect(status.code, status.stdout + status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({
      state: 'pending',
      pending: ['002_doomed'],
      applied: [expect.objectContaining({ name: '001_notes' })],
    });

    // Mended and deployed again: the next request applies it, once.
    for (const [file, text] of Object.entries(GOOD)) await writeFile(join(folder, file), text);
    const mended = await workers(await bundleWorker(WORKER, dir, listOf(GOOD)), persist);
    running.push(mended);
    expect(await request(mended)).toMatchObject({ status: 200, body: { ok: true, applied: 2 } });
    await mended.dispose();
    const verify = await runNode(CLI, ['verify', '--url', url, '--migrations', folder], {
      cwd: PROJECT,
      env: { NO_COLOR: '1', DATABASE_URL: '', NODE_ENV: '' },
      timeoutMs: 60_000,
    });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  });
});
