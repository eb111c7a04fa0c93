import { HistoryMismatchError, InvalidTargetError } from '../errors.js';
import { compareInOrder, type Migration } from '../migration.js';
import type { AdoptedHistory, RepairChange } from '../migrator/types.js';
import { type LocalHistory, planMigrations } from '../planner.js';
import type { AppliedMigration, RecordRewrite } from '../ports.js';
import { unknownTarget } from './targets.js';

// The pure part of adopt, baseline and repair: from the local migrations, mig's records and (for adopt)
// another tool's history, what would be written, or every reason it cannot be. The migrator runs these under
// the lock, on records read under the lock.

/** What adopting records: the local migrations the tool applied that mig has no record of yet, in order. */
export function planAdoption<Db>(
  history: LocalHistory<Db>,
  records: readonly AppliedMigration[],
  adopted: AdoptedHistory,
): readonly Migration<Db>[] {
  const { tool } = adopted;
  const where = adopted.table ? `${tool}'s history (${adopted.table})` : `${tool}'s history`;
  const local = new Map(history.migrations.map((m) => [m.name, m]));
  const names = new Set(adopted.applied);
  const compareNames = compareInOrder(history.migrations);
  const cases = [...(adopted.unmatched ?? [])];
  for (const name of names) {
    if (!local.has(name)) {
      cases.push(
        `"${name}" is applied in ${where} but has no file in the migrations folder: restore the file, or, if that migration is gone for good, remove its row from ${adopted.table ?? "the tool's table"}`,
      );
    }
  }
  const last = [...names]
    .filter((n) => local.has(n))
    .sort(compareNames)
    .at(-1);
  const prefix = last === undefined ? [] : history.migrations.filter((m) => compareNames(m.name, last) <= 0);
  for (const m of prefix) {
    if (!names.has(m.name)) {
      cases.push(
        `"${m.name}" was never applied by ${tool} but sorts before its last applied migration "${last}": apply it with ${tool} first, or rename it so it sorts after "${last}"`,
      );
    }
  }
  cases.push(...disagreements(records, prefix, where));
  if (cases.length > 0) throw new HistoryMismatchError(`Cannot adopt ${where}`, cases, { tool });
  return prefix.slice(records.length);
}

/** What a baseline records: every local migration up to and including `to`, unless mig has records. */
export function planBaseline<Db>(
  history: LocalHistory<Db>,
  records: readonly AppliedMigration[],
  to: string,
): readonly Migration<Db>[] {
  const index = history.migrations.findIndex((m) => m.name === to);
  if (index < 0) throw unknownTarget(to, history);
  const set = history.migrations.slice(0, index + 1);
  if (records.length === 0) return set;
  const same =
    records.length === set.length &&
    records.every((r, i) => r.name === set[i]?.name && r.checksum === set[i]?.checksum);
  if (same) return [];
  const shown = records
    .slice(0, 3)
    .map((r) => `"${r.name}"`)
    .join(', ');
  throw new HistoryMismatchError(`Cannot baseline to "${to}"`, [
    `mig's store already has ${records.length} record(s) (${shown}${records.length > 3 ? ', …' : ''}) that are not this baseline: a baseline is for a database without mig records (or to repeat the same one)`,
  ]);
}

/**
 * What a repair writes: the recorded checksums of applied migrations whose files changed, replaced by the
 * files' current ones; or, with `forget`, the one record of a deleted file. Pending and missing migrations
 * are never touched otherwise; out-of-order ones are not a repair's to fix.
 */
export function planRepair<Db>(
  history: LocalHistory<Db>,
  records: readonly AppliedMigration[],
  forget: string | undefined,
): { readonly rewrite: RecordRewrite; readonly changes: readonly RepairChange[] } {
  const plan = planMigrations(history.migrations, records);
  if (forget !== undefined) {
    const record = records.find((r) => r.name === forget);
    if (!record) {
      throw new InvalidTargetError(forget, `There is no record named "${forget}" to forget.`, {
        context: { target: forget },
      });
    }
    // Its file is gone: "missing", or "ahead" when it sorted after every file left.
    if (history.migrations.some((m) => m.name === forget)) {
      throw new HistoryMismatchError(`Cannot forget "${forget}"`, [
        `its file is among the local migrations: forgetting is for the record of a deleted file (a changed file is repaired without --forget)`,
      ]);
    }
    return {
      rewrite: { checksums: [], forget: [forget] },
      changes: [{ kind: 'forget', name: forget, checksum: record.checksum }],
    };
  }
  const changed = plan.problems.flatMap((p) => (p.kind === 'changed' ? [p] : []));
  return {
    rewrite: { checksums: changed.map((p) => ({ name: p.name, checksum: p.localChecksum })), forget: [] },
    changes: changed.map((p) => ({ kind: 'checksum', name: p.name, from: p.appliedChecksum, to: p.localChecksum })),
  };
}

/** Where mig's own records and the prefix an adoption expects disagree, in sentences. */
function disagreements<Db>(
  records: readonly AppliedMigration[],
  prefix: readonly Migration<Db>[],
  where: string,
): string[] {
  const cases: string[] = [];
  for (const [i, record] of records.entries()) {
    const expected = prefix[i];
    if (expected === undefined) break; // mig went on after the adopted history: those are its own
    if (record.name !== expected.name) {
      cases.push(
        `mig's record ${i + 1} is "${record.name}" where ${where} has "${expected.name}": the two histories disagree`,
      );
    } else if (record.checksum !== expected.checksum) {
      cases.push(`"${record.name}" is recorded by mig with another checksum: its file changed; repair it first`);
    }
  }
  return cases;
}
