import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ROOT } from './paths.js';

const run = promisify(execFile);

/** A project outside the repository that installed the packages as a user does: from their packed tarballs. */
export interface PackedProject {
  readonly dir: string;
  dispose(): Promise<void>;
}

/** The version range the workspace's catalog gives `name` (what a user's project would install). */
export function catalogRange(name: string): string {
  const yaml = readFileSync(join(ROOT, 'pnpm-workspace.yaml'), 'utf8');
  const line = yaml.split('\n').find((l) =>
    l
      .trim()
      .replace(/^"([^"]+)"/, '$1')
      .startsWith(`${name}:`),
  );
  if (line === undefined) throw new Error(`${name} is not in the pnpm catalog`);
  return line.slice(line.indexOf(':') + 1).trim();
}

/**
 * Packs every publishable package (its built dist: build first) with `pnpm pack`, and installs the tarballs
 * with `dependencies` (at the catalog's ranges) into a fresh npm project in the temporary folder. Nothing
 * else is installed: an optional peer left out is missing there, as it is for a user who did not add it.
 */
export async function packedProject(label: string, dependencies: readonly string[]): Promise<PackedProject> {
  const work = await mkdtemp(join(tmpdir(), `mig-${label}-`));
  const tarballs = join(work, 'tarballs');
  await mkdir(tarballs);
  const specs: string[] = [];
  for (const name of readdirSync(join(ROOT, 'packages'))) {
    const dir = join(ROOT, 'packages', name);
    if (!existsSync(join(dir, 'package.json'))) continue;
    if (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private === true) continue;
    if (!existsSync(join(dir, 'dist'))) throw new Error(`packages/${name} has no dist/: build first (pnpm build)`);
    const { stdout } = await run('pnpm', ['pack', '--pack-destination', tarballs, '--json'], { cwd: dir });
    specs.push(JSON.parse(stdout.slice(stdout.indexOf('{'))).filename);
  }
  const dir = join(work, 'app');
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: `mig-${label}`, private: true, type: 'module' })}\n`,
  );
  specs.push(...dependencies.map((d) => `${d}@${catalogRange(d)}`));
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', ...specs], {
      cwd: dir,
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
    throw new Error(`npm install of the packed packages failed in ${dir}:\n${stdout}${stderr}`);
  }
  return { dir, dispose: () => rm(work, { recursive: true, force: true }) };
}
