import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverVersion } from './db.js';
import type { MachineInfo } from './types.js';

const PACKAGES = [
  '@mig/core',
  '@mig/kysely-adapter',
  '@mig/cache',
  '@mig/lock',
  'kysely',
  'pg',
  '@opentelemetry/api',
  '@opentelemetry/sdk-trace-base',
  '@opentelemetry/sdk-metrics',
] as const;

/**
 * The version of an installed package, from the package.json above its entry point: not every package
 * exports its package.json, but every one resolves to a file inside its own folder.
 */
function installedVersion(name: string): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.resolve(name)));
    for (let depth = 0; depth < 6; depth++) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === name && pkg.version) return pkg.version;
      } catch {
        // No package.json at this level: keep climbing.
      }
      dir = dirname(dir);
    }
  } catch {
    // Not resolvable from here.
  }
  return 'unknown';
}

/** The commit the packages were built from, and whether the tree had changes: the figures belong to it. */
function workspaceCommit(): string {
  try {
    const cwd = dirname(fileURLToPath(import.meta.url));
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', '../../packages'], {
      cwd,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (packages/ modified)` : head;
  } catch {
    return 'unknown';
  }
}

export async function describeMachine(): Promise<MachineInfo> {
  const versions: Record<string, string> = { workspace: workspaceCommit() };
  for (const name of PACKAGES) versions[name] = installedVersion(name);
  return {
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    loadAverage: loadavg().map((l) => Math.round(l * 100) / 100),
    os: `${type()} ${release()}`,
    node: process.version,
    postgres: await serverVersion(),
    versions,
  };
}
