import { type AllHooks, type Step, throwIfStopped } from './store-engine.js';

/** What `applyAllInOneRequest` needs of an engine whose only atomic unit is one request (a batch). */
export interface OneRequest<Q> {
  /** The checks that open the request: the head, the lock (taken from the first step). */
  readonly proof: readonly Q[];
  /** A step's statements (its migration's own, split or captured) and its record. */
  part(step: Step): Promise<readonly Q[]>;
  /** Sends the proof and every part as one request, committed together or not at all. */
  send(queries: readonly Q[]): Promise<unknown>;
  /** mig's own check failed (the head moved, the lock was lost): no migration's fault. */
  isCheck(error: unknown): boolean;
  /** Sends `queries` in a request that never commits: true when they failed on their own. */
  rehearse(queries: readonly Q[]): Promise<boolean>;
}

/**
 * `transaction: 'all'` on an engine with no interactive transaction (D1's `batch()`, Neon's transaction
 * request): every pending migration and its record in one request after the first step's checks. Such a
 * request does not say which of its statements failed: the steps are then sent again, one more each time, in
 * requests that never commit, until the failure shows up, and it is reported as that migration's.
 */
export async function applyAllInOneRequest<Q>(
  steps: readonly Step[],
  hooks: AllHooks,
  request: OneRequest<Q>,
): Promise<void> {
  const first = steps[0];
  if (first === undefined) return;
  const parts: (readonly Q[])[] = [];
  for (const step of steps) {
    throwIfStopped(step);
    try {
      parts.push(await request.part(step));
    } catch (error) {
      hooks.onStart(step);
      throw error;
    }
  }
  const started = performance.now();
  try {
    await request.send([...request.proof, ...parts.flat()]);
  } catch (error) {
    const failed = request.isCheck(error) ? 0 : await firstFailing(request, parts);
    hooks.onStart(steps[failed] ?? first);
    throw error;
  }
  const durationMs = performance.now() - started;
  for (const step of steps) {
    hooks.onStart(step);
    hooks.onRan(step, durationMs);
  }
}

/** The index of the first part whose statements fail, sent in requests that never commit. */
async function firstFailing<Q>(request: OneRequest<Q>, parts: readonly (readonly Q[])[]): Promise<number> {
  for (let i = 0; i < parts.length; i++) {
    if (await request.rehearse([...request.proof, ...parts.slice(0, i + 1).flat()])) return i;
  }
  return parts.length - 1;
}
