import { it, type TestContext } from 'vitest';
import { isMigError, type MigErrorCode } from '../errors.js';

/**
 * What a running case can do besides asserting: skip itself when the implementation turns out not to have
 * what it tests (a store without an inspector), which the report shows as skipped, not passed.
 */
export interface CaseControl {
  skip(note: string): never;
}

/** The body of one case. */
export type CaseRun = (control: CaseControl) => Promise<void> | void;

/**
 * Registers the cases of one suite. A title in `expectedFailures` runs as `it.fails`: it must keep failing,
 * so the suite turns red the day the bug is fixed and the entry has to go. A title that names no case is an
 * error at once, so a typo never hides a failure.
 */
export function caseRegistry<T extends string>(
  suite: string,
  titles: readonly T[],
  expectedFailures: readonly string[] = [],
): (title: T, run: CaseRun, options?: { readonly skip?: boolean }) => void {
  const unknown = expectedFailures.filter((title) => !(titles as readonly string[]).includes(title));
  if (unknown.length > 0) {
    throw new Error(
      `${suite}: expectedFailures names no case of this suite: ${unknown.map((t) => JSON.stringify(t)).join(', ')}`,
    );
  }
  return (title, run, options = {}) => {
    const body = (context: TestContext) => run({ skip: (note) => context.skip(note) });
    if (options.skip) it.skip(title, body);
    else if (expectedFailures.includes(title)) it.fails(title, body);
    else it(title, body);
  };
}

/** What a promise settled with, so a test can assert on a rejection without a try/catch. */
export async function settle<T>(
  promise: Promise<T>,
): Promise<{ readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, error };
  }
}

/** The error a promise rejected with; fails (with the value it got) when it resolved instead. */
export async function rejection(promise: Promise<unknown>, what: string): Promise<unknown> {
  const result = await settle(promise);
  if (result.ok) throw new Error(`${what} resolved (${describeValue(result.value)}); it must reject`);
  return result.error;
}

/** Fails unless `error` is a MigError with `code`, saying what it was instead. */
export function assertMigError(error: unknown, code: MigErrorCode, what: string): void {
  if (isMigError(error, code)) return;
  const got = isMigError(error) ? `a MigError with code ${error.code}` : describeValue(error);
  const message = error instanceof Error ? `: ${error.message}` : '';
  throw new Error(`${what} must fail with code ${code}; it failed with ${got}${message}`, { cause: error });
}

function describeValue(value: unknown): string {
  if (value instanceof Error) return `${value.name}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A promise and the functions that settle it, for loads and holders that a test finishes by hand. */
export interface Deferred<T> {
  readonly promise: Promise<T>;
  resolve(value: T): void;
  reject(error: unknown): void;
}

export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Whether a promise has settled yet, without waiting for it. */
export function tracked<T>(promise: Promise<T>): { readonly promise: Promise<T>; readonly settled: boolean } {
  const state = { promise, settled: false };
  promise.then(
    () => {
      state.settled = true;
    },
    () => {
      state.settled = true;
    },
  );
  return state;
}
