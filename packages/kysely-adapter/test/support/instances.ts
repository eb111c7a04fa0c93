import { fileURLToPath } from 'node:url';
import type { LockStrategy } from '@mig/core';
import {
  lastJsonLine,
  type ProcessResult,
  type RunningProcess,
  startNode,
} from '../../../../test/support/processes.js';

// Application instances as real processes (fixtures/migrate.mjs, on the built packages), on any engine's URL.

export const MIGRATE_SCRIPT = fileURLToPath(new URL('../fixtures/migrate.mjs', import.meta.url));

/** The line an instance prints when it is done. */
export interface MigrateOutcome {
  readonly name: string;
  /** `up`: what it applied; `dry-run`: nothing. */
  readonly applied: string[];
  /** `dry-run`: what it would apply. */
  readonly planned: string[];
  readonly lockWaitMs: number;
  readonly error: { code: string; message: string } | null;
  /** `status` only. */
  readonly state?: string;
  readonly pending?: string[];
  readonly problems?: { kind: string; name: string }[];
}

export interface InstanceOptions {
  /** The database, as `openDatabase` reads it. */
  readonly url: string;
  /** The migrations folder. */
  readonly dir: string;
  /** Its application name (PostgreSQL's `application_name`), and what its code migrations write as theirs. */
  readonly name: string;
  readonly command?: 'up' | 'dry-run' | 'status';
  /** The lock strategy; the engine's default when not given. */
  readonly strategy?: LockStrategy;
  readonly lockTimeoutMs?: number;
  readonly leaseTtlMs?: number;
  /** Connect, print "armed" and wait for SIGUSR2 (see `race`). */
  readonly armed?: boolean;
  /** Added to the test process's environment. */
  readonly env?: Record<string, string> | undefined;
}

/** Starts one application instance (a real node process) that migrates the database. */
export function startInstance(options: InstanceOptions): RunningProcess {
  const args = [
    `--url=${options.url}`,
    `--dir=${options.dir}`,
    `--name=${options.name}`,
    `--command=${options.command ?? 'up'}`,
    `--lock-timeout=${options.lockTimeoutMs ?? 120_000}`,
  ];
  if (options.strategy !== undefined) args.push(`--strategy=${options.strategy}`);
  if (options.leaseTtlMs !== undefined) args.push(`--lease-ttl=${options.leaseTtlMs}`);
  if (options.armed) args.push('--armed');
  return startNode(MIGRATE_SCRIPT, args, { timeoutMs: 240_000, env: options.env });
}

export function outcome(result: ProcessResult): MigrateOutcome {
  return lastJsonLine<MigrateOutcome>(result);
}

/**
 * Starts `count` instances, waits until every one has connected, then lets them all go at one instant
 * (loading many Node processes takes a while on two cores); resolves when all have exited.
 */
export async function race(count: number, options: (i: number) => InstanceOptions): Promise<ProcessResult[]> {
  const instances = Array.from({ length: count }, (_, i) => startInstance({ ...options(i), armed: true }));
  try {
    await Promise.all(instances.map((instance) => instance.waitFor(/^armed$/, 180_000)));
  } catch (error) {
    for (const instance of instances) instance.child.kill('SIGKILL');
    throw error;
  }
  for (const instance of instances) instance.child.kill('SIGUSR2');
  return Promise.all(instances.map((instance) => instance.done));
}
