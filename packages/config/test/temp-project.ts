import { mkdir, mkdtemp, realpath, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const created: string[] = [];

afterAll(async () => {
  await Promise.all(created.map((dir) => rm(dir, { recursive: true, force: true })));
});

/**
 * A real folder in the OS temp dir holding `files` (path → content; a path ending in "/" is a folder). Unless
 * `files` says otherwise, it gets a `package.json` so the config search stops inside it, whatever /tmp holds.
 */
export async function tempProject(files: Record<string, string>, options: { root?: boolean } = {}): Promise<string> {
  // realpath: on some systems tmpdir() is a symlink, and loaders report real paths.
  const dir = await realpath(await mkdtemp(join(tmpdir(), 'mig-config-')));
  created.push(dir);
  const all = options.root === false ? files : { 'package.json': '{ "name": "fixture", "private": true }', ...files };
  for (const [path, content] of Object.entries(all)) {
    const full = join(dir, path);
    if (path.endsWith('/')) {
      await mkdir(full, { recursive: true });
      continue;
    }
    await mkdir(dirname(full), { recursive: true });
    await writeFile(full, content);
  }
  return dir;
}
