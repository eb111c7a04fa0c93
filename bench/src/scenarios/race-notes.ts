import { formatDuration } from '../format.js';
import { summarize } from '../stats.js';
import { type RaceRun, type RaceTool, type Ready, toolName } from './race-result.js';

/** The run whose wall time is the median of `runs`. */
function medianRun(runs: readonly RaceRun[]): RaceRun | undefined {
  return [...runs].sort((a, b) => a.wallMs - b.wallMs)[runs.length >> 1];
}

/** The processes that applied migrations, and when the last of them gave the lock back (undefined if unknown). */
function applierRelease(run: RaceRun): { appliers: Ready[]; releasedAt: number | undefined } {
  const appliers = run.instances.filter((i) => i.appliedHere.length > 0);
  const times = appliers.map((i) => i.lock.releasedAt).filter((t): t is number => t !== undefined);
  return { appliers, releasedAt: times.length > 0 ? Math.max(...times) : undefined };
}

/**
 * How long the applier held the lock in the median race against one process alone, from the lock timings the
 * processes recorded; undefined where they recorded none (Kysely).
 */
export function holderTimes(
  runs: readonly RaceRun[],
  single: readonly RaceRun[],
): { readonly held: number; readonly alone: number } | undefined {
  const heldIn = (run: RaceRun | undefined) => {
    if (!run) return undefined;
    const { appliers, releasedAt } = applierRelease(run);
    const acquiredAt = appliers[0]?.lock.acquiredAt;
    return acquiredAt === undefined || releasedAt === undefined ? undefined : releasedAt - acquiredAt;
  };
  const held = heldIn(medianRun(runs));
  const alone = heldIn(medianRun(single));
  return held === undefined || alone === undefined ? undefined : { held, alone };
}

/**
 * How long after the holder's release the waiting processes were done: per run the last of them; over the
 * runs the median of those, the worst, and the median of every waiter. Undefined when no run recorded a
 * release (Kysely, or a run without lock timings).
 */
export function waiterLatencies(
  runs: readonly RaceRun[],
): { medianOfLast: number; worst: number; medianWaiter: number } | undefined {
  const lasts: number[] = [];
  const every: number[] = [];
  for (const run of runs) {
    const { appliers, releasedAt } = applierRelease(run);
    if (releasedAt === undefined) continue;
    const after = run.instances.filter((i) => !appliers.includes(i)).map((i) => i.readyAt - releasedAt);
    if (after.length === 0) continue;
    lasts.push(Math.max(...after));
    every.push(...after);
  }
  if (lasts.length === 0) return undefined;
  return { medianOfLast: summarize(lasts).median, worst: Math.max(...lasts), medianWaiter: summarize(every).median };
}

/** One sentence on a range of times: "between 3 ms and 40 ms (median 12 ms)", or the one time. */
function spread(values: readonly number[]): string {
  if (values.length === 0) return 'never';
  const s = summarize(values);
  return values.length === 1
    ? formatDuration(s.median)
    : `between ${formatDuration(s.min)} and ${formatDuration(s.max)} (median ${formatDuration(s.median)})`;
}

/** When processes were done relative to a moment, in words: some may have been done (or failed) before it. */
function relativeTo(values: readonly number[]): string {
  const before = values.filter((v) => v < 0).map((v) => -v);
  const after = values.filter((v) => v >= 0);
  if (before.length === 0) return `were done ${spread(after)} after that`;
  const early = `${before.length} were done ${spread(before)} before that`;
  return after.length === 0
    ? `were all done before that: ${early}`
    : `were done ${spread(after)} after that, except ${early}`;
}

/**
 * Where the time went in the median race of `tool`, from what each process recorded, every process
 * counted: mig's applier (when it got the lock, how long it held it, against the lone process), then, of
 * the others, how many took the lock after the release and how many finished without it, and when they
 * were done. For Kysely, which records no lock timings: when the applier was done, and the others after it.
 */
export function raceNote(tool: RaceTool, runs: readonly RaceRun[], single: readonly RaceRun[]): string {
  const run = medianRun(runs);
  const alone = medianRun(single);
  const name = toolName(tool);
  if (!run || !alone) return `${name}: no run recorded.`;
  const { appliers, releasedAt } = applierRelease(run);
  const others = run.instances.filter((i) => !appliers.includes(i));
  const head = `${name}, median run of ${run.instances.length} processes (${formatDuration(run.wallMs)}; alone ${formatDuration(alone.wallMs)})`;
  if (appliers.length === 0) return `${head}: no process reported applying anything.`;
  const applier = appliers[0] as Ready;
  if (tool === 'kysely' || releasedAt === undefined || applier.lock.acquiredAt === undefined) {
    const appliedDone = Math.max(...appliers.map((i) => i.readyAt));
    return `${head}: ${appliers.length} process(es) applied the migrations and were done ${formatDuration(appliedDone - run.goAt)} after the start; the other ${others.length} ${relativeTo(others.map((i) => i.readyAt - appliedDone))}.`;
  }
  const aloneLock = alone.instances[0]?.lock;
  const aloneHeld =
    aloneLock?.acquiredAt !== undefined && aloneLock.releasedAt !== undefined
      ? `; alone it got it after ${formatDuration(aloneLock.acquiredAt - alone.goAt)} and held it ${formatDuration(aloneLock.releasedAt - aloneLock.acquiredAt)}`
      : '';
  const took = others.filter((i) => i.lock.acquiredAt !== undefined && i.lock.acquiredAt >= releasedAt);
  const tookEarlier = others.filter((i) => i.lock.acquiredAt !== undefined && i.lock.acquiredAt < releasedAt);
  const without = others.length - took.length - tookEarlier.length;
  return (
    `${head}: ${appliers.length === 1 ? 'the applier' : `${appliers.length} appliers; the first`} got the lock ${formatDuration(applier.lock.acquiredAt - run.goAt)} after the start and ${appliers.length === 1 ? 'held it for' : 'the last released it after'} ${formatDuration(releasedAt - applier.lock.acquiredAt)}${aloneHeld}. ` +
    `Of the other ${others.length}, ${took.length} took the lock after the release (${spread(took.map((i) => (i.lock.acquiredAt as number) - releasedAt))} after it), ${tookEarlier.length} took it before it, and ${without} finished without taking it; ` +
    `they were done ${spread(others.map((i) => i.readyAt - releasedAt))} after the release.`
  );
}
