import { readFile, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import type { D1DatabaseLike } from '../../src/engines/d1/index.js';

export type { Miniflare } from 'miniflare';

// Real Workers on a local D1 for the tests: an entry bundled by esbuild for workerd as wrangler bundles one,
// run by miniflare several times over (each Worker is an isolate of its own) on one D1 database.

/** The D1 database's id: the same for every Worker, the `mig` command (`&id=`) and `readD1`. */
export const DATABASE_ID = 'mig-test';

/**
 * `entry` bundled with `migrations` (an ES module's source: a list, or what `mig bundle` wrote) in place of the
 * entry's `./migrations.js`, for workerd, into `dir`; returns the bundle's path.
 */
export async function bundleWorker(entry: string, dir: string, migrations: string): Promise<string> {
  const stamp = `${Date.now()}-${Math.random().toString(16).slice(2, 8)}`;
  const list = join(dir, `migrations-${stamp}.mjs`);
  await writeFile(list, migrations);
  const outfile = join(dir, `worker-${stamp}.mjs`);
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    conditions: ['@mig/source', 'workerd', 'worker', 'browser'],
    // workerd provides Node's modules (nodejs_compat), with or without `node:`, as wrangler marks them.
    external: ['node:*', ...builtinModules],
    logLevel: 'error',
    plugins: [
      {
        name: 'test-migrations',
        setup(b) {
          b.onResolve({ filter: /^\.\/migrations\.js$/ }, (args) =>
            args.importer === entry ? { path: list } : undefined,
          );
        },
      },
    ],
  });
  return outfile;
}

/**
 * A workerd running the bundled Worker `isolates` times over on one D1 database `DB`, kept in `persist`. The
 * bundle is given as one module, as wrangler hands its bundle over: what it imports only on a path a Worker
 * never takes (miniflare, for a `d1:` URL from Node) stays unresolved.
 */
export async function startWorkers(scriptPath: string, persist: string, isolates = 1): Promise<Miniflare> {
  const contents = await readFile(scriptPath, 'utf8');
  return new Miniflare({
    workers: Array.from({ length: isolates }, (_, i) => ({
      name: `isolate-${i}`,
      modules: [{ type: 'ESModule' as const, path: 'worker.mjs', contents }],
      compatibilityDate: '2026-01-01',
      compatibilityFlags: ['nodejs_compat'],
      d1Databases: { DB: DATABASE_ID },
    })),
    d1Persist: persist,
  });
}

/** What a test Worker answers: its status and its JSON body. */
export interface WorkerAnswer {
  readonly status: number;
  readonly body: { ok: boolean; applied?: number; code?: string; message?: string };
}

/** One request to the Worker of isolate `isolate`. */
export async function requestWorker(mf: Miniflare, path = '/', isolate = 0): Promise<WorkerAnswer> {
  // miniflare types the Worker with @cloudflare/workers-types' Fetcher, which this package does not install.
  const worker = (await mf.getWorker(`isolate-${isolate}`)) as unknown as {
    fetch(url: string): Promise<{ status: number; json(): Promise<unknown> }>;
  };
  const response = await worker.fetch(`http://worker.test${path}`);
  return { status: response.status, body: (await response.json()) as WorkerAnswer['body'] };
}

/** Rows of one query on the local D1 in `persist`, read through a workerd of its own. */
export async function readD1<R>(persist: string, text: string): Promise<R[]> {
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null); } }',
    d1Databases: { DB: DATABASE_ID },
    d1Persist: persist,
  });
  try {
    const db = (await mf.getD1Database('DB')) as unknown as D1DatabaseLike;
    return ((await db.prepare(text).all()).results ?? []) as R[];
  } finally {
    await mf.dispose();
  }
}
