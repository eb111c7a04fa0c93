import type { Dialect } from 'kysely';
import { missingDriver } from '../../locations.js';
import type { D1DatabaseLike } from './binding.js';
import { createD1Dialect } from './dialect.js';
import type { LocalD1 } from './url.js';

/** miniflare runs on Node only (the CLI, tests): named out of a bundler's sight, so no Worker bundle carries it. */
const MINIFLARE = 'miniflare';

type MiniflareModule = typeof import('miniflare');

/**
 * miniflare from beside this package, else from the project in the working folder (a Worker's project has
 * it, or wrangler, which brings it): the `mig` command is one bundled file that has no packages beside it.
 */
async function importMiniflare(): Promise<MiniflareModule> {
  try {
    return (await import(MINIFLARE)) as MiniflareModule;
  } catch (error) {
    const { createRequire } = await import('node:module');
    const { pathToFileURL } = await import('node:url');
    let resolved: string;
    try {
      resolved = createRequire(`${process.cwd()}/package.json`).resolve(MINIFLARE);
    } catch {
      throw error;
    }
    return (await import(pathToFileURL(resolved).href)) as MiniflareModule;
  }
}

/**
 * A dialect on a local D1 database, opened through miniflare in this process (a workerd runs the D1
 * simulator on the persist folder, as `wrangler dev` does); closing the Kysely instance disposes it.
 */
export async function openLocalD1(local: LocalD1): Promise<Dialect> {
  const { Miniflare } = await importMiniflare().catch(missingDriver(MINIFLARE));
  const mf = new Miniflare({
    modules: true,
    script: 'export default { fetch() { return new Response(null, { status: 204 }); } }',
    d1Databases: local.id === undefined ? [local.binding] : { [local.binding]: local.id },
    d1Persist: local.persist,
  });
  const database = (await mf.getD1Database(local.binding)) as unknown as D1DatabaseLike;
  return createD1Dialect(database, { onDestroy: () => mf.dispose() });
}
