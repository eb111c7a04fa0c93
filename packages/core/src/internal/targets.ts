import { InvalidTargetError, MigrationDriftError, MigrationSourceError } from '../errors.js';
import type { Migration, MigrationModule } from '../migration.js';
import { type LocalHistory, planMigrations } from '../planner.js';
import type { AppliedMigration } from '../ports.js';
import type { MigrationStatus } from '../status.js';

/** What a run was asked for: `to` a migration, or (`down`) `all` of them; neither means the default. */
export interface TargetRequest {
  readonly to?: string | undefined;
  readonly all?: boolean | undefined;
}

/** The migrations `up` would apply, in order. Throws on drift or an unknown `to`. */
export function upTargets<Db>(
  history: LocalHistory<Db>,
  status: MigrationStatus,
  request: TargetRequest,
): readonly Migration<Db>[] {
  if (status.problems.length > 0) throw new MigrationDriftError(status.problems);
  const pendingNames = new Set(status.pending);
  const pending = history.migrations.filter((m) => pendingNames.has(m.name));
  if (request.to === undefined) return pending;
  const index = pending.findIndex((m) => m.name === request.to);
  if (index >= 0) return pending.slice(0, index + 1);
  if (history.migrations.some((m) => m.name === request.to)) return []; // already applied
  throw unknownTarget(request.to, history);
}

/** The migrations `down` would revert, newest first. Throws on drift, an unknown `to`, or foreign records. */
export function downTargets<Db>(
  history: LocalHistory<Db>,
  applied: readonly AppliedMigration[],
  request: TargetRequest,
): readonly Migration<Db>[] {
  const plan = planMigrations(history.migrations, applied);
  if (plan.problems.length > 0) throw new MigrationDriftError(plan.problems);
  const byName = new Map(history.migrations.map((m) => [m.name, m]));
  const reversed = [...applied].reverse().map((r) => r.name);
  let names: string[];
  if (request.all) names = reversed;
  else if (request.to === undefined) names = reversed.slice(0, 1);
  else {
    const index = reversed.indexOf(request.to);
    if (index < 0) {
      if (byName.has(request.to)) return []; // not applied: nothing after it to revert
      throw unknownTarget(request.to, history);
    }
    names = reversed.slice(0, index);
  }
  const foreign = names.filter((name) => !byName.has(name));
  if (foreign.length > 0) {
    throw new InvalidTargetError(
      foreign,
      `Cannot revert ${quoted(foreign)}: applied by a newer version of the code, whose files are not here. Revert with that version.`,
      { context: { migrations: foreign } },
    );
  }
  const reverting = new Set(names);
  const foreignApi = applied.filter((r) => reverting.has(r.name) && !r.runnable);
  if (foreignApi.length > 0) {
    const tool = foreignApi[0]?.adoptedFrom ?? 'another tool';
    throw new InvalidTargetError(
      foreignApi.map((r) => r.name),
      `Cannot revert ${quoted(foreignApi.map((r) => r.name))}: adopted from ${tool}'s history, and written for ${tool}, ` +
        `whose API mig does not run. Revert with ${tool}, or write a new forward migration; nothing was reverted.`,
      { context: { migrations: foreignApi.map((r) => r.name), tool } },
    );
  }
  return names.map((name) => byName.get(name) as Migration<Db>);
}

/** Loads the modules of `targets`; for `down`, each must have a down. */
export async function loadModules<Db>(
  targets: readonly Migration<Db>[],
  direction: 'up' | 'down',
): Promise<Map<string, MigrationModule<Db>>> {
  // Every migration that cannot load is reported in one error, not one per run.
  const settled = await Promise.allSettled(targets.map(async (m) => [m.name, await m.load()] as const));
  const failed = settled.flatMap((s) => (s.status === 'rejected' ? [s.reason as unknown] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) {
    if (!failed.every((e) => e instanceof MigrationSourceError)) throw failed[0];
    throw new MigrationSourceError(
      `${failed.length} migrations cannot run; nothing was run:\n${failed.map((e) => `  - ${(e as Error).message}`).join('\n')}`,
      { cause: failed[0], context: { migrations: failed.length } },
    );
  }
  const modules = new Map(settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : [])));
  if (direction === 'down') {
    const irreversible = targets.filter((m) => !modules.get(m.name)?.down);
    if (irreversible.length > 0) {
      throw new InvalidTargetError(
        irreversible.map((m) => m.name),
        `Cannot revert ${quoted(irreversible.map((m) => m.name))}: no down migration defined. ` +
          'Add a down (a `down` export, or a `-- mig:down` section in a SQL file) or write a new forward migration.',
        { context: { migrations: irreversible.map((m) => m.name) } },
      );
    }
  }
  return modules;
}

export function unknownTarget<Db>(name: string, history: LocalHistory<Db>): InvalidTargetError {
  const names = history.migrations.map((m) => m.name);
  const hint =
    names.length > 0 ? ` Known migrations: ${names.slice(-5).join(', ')}${names.length > 5 ? ', …' : ''}.` : '';
  return new InvalidTargetError(name, `There is no migration named "${name}".${hint}`, {
    context: { target: name },
  });
}

function quoted(names: readonly string[]): string {
  return names.map((n) => `"${n}"`).join(', ');
}
