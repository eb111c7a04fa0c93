import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runNode } from '../../../test/support/processes.js';
import {
  bundleWorker,
  type Miniflare,
  readD1,
  requestWorker,
  startWorkers,
} from '../../kysely-adapter/test/support/d1-worker.js';

// createDatabase in a Cloudflare Worker (test/fixtures/d1-worker/worker.ts, bundled for workerd with
// nodejs_compat): its migrations the module `mig bundle` wrote, the configuration read where there are no
// files, its D1 handed over as a Kysely instance, several isolates racing for the lease. The D1 engine's own guarantees are tested in the adapter.

const WORKER = fileURLToPath(new URL('./fixtures/d1-worker/worker.ts', import.meta.url));
const CLI = fileURLToPath(new URL('../../cli/dist/bin.js', import.meta.url));

const MIGRATIONS = {
  '001_notes.sql':
    "create table notes (id integer primary key, body text not null);\ncreate table audit (migration text not null);\ninsert into audit (migration) values ('001_notes');\n",
  '002_note_body.sql':
    "create index notes_body on notes (body);\ninsert into audit (migration) values ('002_note_body');\n",
};

/** The module `mig bundle` writes from a folder holding `files`. */
async function migBundle(dir: string, files: Record<string, string>): Promise<string> {
  const folder = join(dir, 'migrations');
  await mkdir(folder);
  for (const [file, text] of Object.entries(files)) await writeFile(join(folder, file), text);
  const out = join(dir, 'migrations.bundle.mjs');
  const written = await runNode(CLI, ['bundle', '--migrations', folder, '--out', out], { cwd: dir, timeoutMs: 60_000 });
  if (written.code !== 0) throw new Error(`mig bundle failed:\n${written.stdout}${written.stderr}`);
  return readFile(out, 'utf8');
}

describe('createDatabase in a Cloudflare Worker on D1', () => {
  let dir: string;
  let mf: Miniflare | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mig-service-worker-'));
  });
  afterEach(async () => {
    await mf?.dispose();
    mf = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('migrates once on the first requests of several isolates, then serves', { timeout: 180_000 }, async () => {
    const persist = join(dir, 'd1');
    mf = await startWorkers(await bundleWorker(WORKER, dir, await migBundle(dir, MIGRATIONS)), persist, 3);
    const started = mf;
    const answers = await Promise.all(
      Array.from({ length: 18 }, (_, i) => requestWorker(started, i % 2 === 0 ? '/?isolate' : '/', i % 3)),
    );
    for (const answer of answers) {
      expect(answer, JSON.stringify(answer.body)).toMatchObject({ status: 200, body: { ok: true, applied: 2 } });
    }
    await mf.dispose();
    mf = undefined;
    const audit = await readD1<{ migration: string; n: number }>(
      persist,
      'select migration, count(*) as n from audit group by migration order by migration',
    );
    expect(audit).toEqual([
      { migration: '001_notes', n: 1 },
      { migration: '002_note_body', n: 1 },
    ]);
  });
});
