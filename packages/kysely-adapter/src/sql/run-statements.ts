import { MigrationFailedError } from '@mig/core';
import { sql } from 'kysely';
import type { MigrationDb } from '../db.js';
import type { Step } from '../store-engine.js';
import type { SqlSplitter, SqlStatement } from './statement.js';

// A SQL migration run one statement at a time, as the engines without a single-query path run it: a
// failure names the file, the line and the statement, and (outside mig's transaction) which statements took
// effect. A file that opens its own transaction and fails inside it has that transaction rolled back here,
// so its connection goes back to the pool clean and the lock is released as after any failure.

const OPENS = /^(begin|start\s+transaction)\b(?!\s+(?:not\s+)?atomic\b)/i;
const CLOSES = /^(commit|end|rollback|abort)\b(?!\s+to\b)/i;
/** At most this many statements are named one by one in a failure. */
const NAMED = 10;

export interface RunStatementsOptions {
  /** The statements run inside mig's own transaction (rolled back whole on failure). */
  readonly inTransaction: boolean;
  /** Before each statement: throws once the run was stopped. */
  readonly beforeEach?: (() => void) | undefined;
  /** The error means the session ended (not the statement's fault): left as it is for the store to say so. */
  readonly sessionEnded?: ((error: unknown) => boolean) | undefined;
  /** Runs one statement on `conn`; by default as it is (an engine may retry one that waited too long for a lock). */
  readonly execute?: ((text: string) => Promise<unknown>) | undefined;
}

export async function runStatements(
  conn: MigrationDb,
  step: Pick<Step, 'migration' | 'direction'>,
  statements: readonly SqlStatement[],
  options: RunStatementsOptions,
): Promise<void> {
  let openedAt: number | undefined;
  for (const [index, statement] of statements.entries()) {
    options.beforeEach?.();
    try {
      await (options.execute ? options.execute(statement.text) : sql.raw(statement.text).execute(conn));
    } catch (error) {
      if (options.sessionEnded?.(error)) throw error;
      let rolledBack = false;
      if (openedAt !== undefined) {
        rolledBack = await sql
          .raw('rollback')
          .execute(conn)
          .then(
            () => true,
            () => false,
          );
      }
      throw failure(step, statements, index, error, options.inTransaction, rolledBack ? openedAt : undefined);
    }
    if (OPENS.test(statement.text)) openedAt = index;
    else if (CLOSES.test(statement.text)) openedAt = undefined;
  }
}

function firstLine(text: string, max = 80): string {
  const line = text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('--')) ?? text;
  const trimmed = line.trim();
  return trimmed.length > max ? `${trimmed.slice(0, max - 1)}…` : trimmed;
}

function named(statements: readonly SqlStatement[], from: number, to: number): string {
  const list = statements
    .slice(from, to)
    .map((s, i) => `statement ${from + i + 1} (line ${s.line}: "${firstLine(s.text, 60)}")`);
  const shown = list.slice(0, NAMED).join(', ');
  return list.length > NAMED ? `${shown} and ${list.length - NAMED} more` : shown;
}

function failure(
  step: Pick<Step, 'migration' | 'direction'>,
  statements: readonly SqlStatement[],
  index: number,
  error: unknown,
  inTransaction: boolean,
  rolledBackFrom: number | undefined,
): unknown {
  const failed = statements[index] as SqlStatement;
  const where = `${step.migration.origin}:${failed.line}`;
  const which = `At ${where}, statement ${index + 1} of ${statements.length} failed: "${firstLine(failed.text)}"`;
  const { name } = step.migration;
  if (inTransaction) return located(error, which);
  if (rolledBackFrom !== undefined) {
    // Tag the cause: the aftermath is the rollback, not statements that remain.
    if (rolledBackFrom === 0) markRolledBack(error);
    const opened = `the transaction the file opened itself at line ${statements[rolledBackFrom]?.line}`;
    const note =
      rolledBackFrom === 0
        ? `${which}, inside ${opened}`
        : `${which}. It was inside ${opened}, which was rolled back; before its BEGIN, already in effect: ${named(statements, 0, rolledBackFrom)}`;
    return noted(new MigrationFailedError(name, step.direction, error, false, note), note, error);
  }
  const effects =
    index === 0
      ? 'no statement had run before it, so nothing took effect'
      : `already in effect: ${named(statements, 0, index)}`;
  const note =
    `${which}; ${effects}. It was not recorded: undo what took effect, or make those statements safe to run ` +
    'again (IF NOT EXISTS, IF EXISTS), before the next run';
  return noted(new MigrationFailedError(name, step.direction, error, false, note), note, error);
}

const NOTE = Symbol('mig.statementNote');

/** Keeps the note and the driver's error on the failure, so an engine can add to the note (`withNote`). */
function noted(failed: MigrationFailedError, note: string, cause: unknown): MigrationFailedError {
  Object.defineProperty(failed, NOTE, { value: { note, cause }, enumerable: false });
  return failed;
}

/**
 * A failure of a migration run outside a transaction, with `extra` said after what the statements' note
 * says (e.g. what a failed index build left behind); one message, not one failure wrapped in another.
 */
export function withNote(
  error: unknown,
  migration: string,
  direction: 'up' | 'down',
  extra: string,
): MigrationFailedError {
  const kept = (error as { [NOTE]?: { note: string; cause: unknown } } | null)?.[NOTE];
  if (kept === undefined) return new MigrationFailedError(migration, direction, error, false, extra);
  return new MigrationFailedError(migration, direction, kept.cause, false, `${kept.note}. ${extra}`);
}

/**
 * The driver's error, marked with where its statement is in the file (`migStatement`, which
 * `MigrationFailedError` says): in mig's transaction the error goes on as the driver's own, so the store and
 * the migrator classify and wrap it as they would without this.
 */
function located(error: unknown, where: string): unknown {
  if (error !== null && typeof error === 'object') {
    try {
      Object.defineProperty(error, 'migStatement', { value: where, enumerable: false, configurable: true });
    } catch {
      // A frozen error goes on without it.
    }
  }
  return error;
}

function markRolledBack(error: unknown): void {
  if (error !== null && typeof error === 'object') {
    try {
      Object.defineProperty(error, 'migRolledBack', { value: 0, enumerable: false, configurable: true });
    } catch {
      // A frozen error keeps its message as it is.
    }
  }
}

/**
 * A statement of a SQL migration that failed in one round trip with mig's own statements: the server says
 * where in the query it failed (PostgreSQL's `position`, for errors found as a statement is read; `scriptAt`
 * is where the script starts in that query), which names the file's line and
 * statement, as psql does. Errors without a position, and mig's own, go on as they are.
 */
export function failedInScript(
  step: Pick<Step, 'migration' | 'direction'>,
  script: string,
  scriptAt: number,
  error: unknown,
  split: SqlSplitter,
): unknown {
  const position = Number((error as { position?: unknown } | null)?.position);
  if (scriptAt < 0 || !Number.isInteger(position)) return error;
  const offset = position - 1 - scriptAt;
  if (offset < 0 || offset >= script.length) return error;
  const line = script.slice(0, offset).split('\n').length;
  const statements = split(script);
  const index = statements.reduce((found, s, i) => (s.line <= line ? i : found), 0);
  const statement = statements[index];
  if (statement === undefined) return error;
  const first = statement.text.split('\n').find((l) => l.trim() !== '' && !l.trim().startsWith('--')) ?? statement.text;
  const shown = first.trim().length > 80 ? `${first.trim().slice(0, 79)}…` : first.trim();
  return located(
    error,
    `At ${step.migration.origin}:${line}, statement ${index + 1} of ${statements.length} failed: "${shown}"`,
  );
}
