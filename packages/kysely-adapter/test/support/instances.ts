import { fileURLToPath } from 'node:url';
import { DEFAULT_LEASE_TTL_MS, type LockStrategy } from '@mig/core';
import {
  lastJsonLine,
  type ProcessResult,
  type RunningProcess,
  startNode,
} from '../../../../test/support/processes.js';
import { type MigrationFolder, migrationFolder } from './migrations.js';

export const MIGRATE_SCRIPT = fileURLToPath(new URL('../fixtures/migrate.mjs', import.meta.url));

export interface MigrateOutcome {
  readonly name: string;
  readonly applied: string[];
  readonly lockWaitMs: number;
  readonly error: { code: string; message: string } | null;
}

export interface InstanceOptions {
  readonly url: string;
  readonly dir: string;
  readonly strategy: LockStrategy;
  readonly name: string;
  readonly lockTimeoutMs?: number;
  readonly leaseTtlMs?: number;
  readonly startAt?: number;
}

/** Starts one application instance (a real node process) that migrates the database. */
export function startInstance(options: InstanceOptions): RunningProcess {
  return startNode(MIGRATE_SCRIPT, [
    `--url=${options.url}`,
    `--dir=${options.dir}`,
    `--strategy=${options.strategy}`,
    `--name=${options.name}`,
    `--lock-timeout=${options.lockTimeoutMs ?? 60_000}`,
    `--lease-ttl=${options.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS}`,
    `--start-at=${options.startAt ?? 0}`,
  ]);
}

export function outcome(result: ProcessResult): MigrateOutcome {
  return lastJsonLine<MigrateOutcome>(result);
}

/** A migrations folder whose first migration creates an audit table that every later one writes to. */
export async function auditedMigrations(count: number, extra: Record<string, string> = {}): Promise<MigrationFolder> {
  const files: Record<string, string> = {
    '000_audit.sql':
      "create table audit (migration text not null, app text not null default current_setting('application_name'), at timestamptz not null default clock_timestamp());\n",
  };
  for (let i = 1; i <= count; i++) {
    const name = `${String(i).padStart(3, '0')}_step`;
    files[`${name}.sql`] = `create table t_${i} (id int);\ninsert into audit (migration) values ('${name}');\n`;
  }
  return migrationFolder({ ...files, ...extra });
}
