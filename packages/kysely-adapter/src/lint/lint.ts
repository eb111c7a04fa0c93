import { readFile } from 'node:fs/promises';
import type { Migration } from '@mig/core';
import type { MigrationDb } from '../db.js';
import { previewQueries } from '../preview.js';
import type { LintFinding, SqlLinter } from './types.js';

/** What the linter found in one migration. */
export interface MigrationLint {
  readonly name: string;
  /** Where the migration came from (its file). */
  readonly origin: string;
  /** `sql`: its own SQL; `captured`: the SQL its code sends, as the dry run captures it. */
  readonly from: 'sql' | 'captured';
  /** Every finding, accepted ones included (`accepted` says why). */
  readonly findings: readonly LintFinding[];
}

/** How to lint migrations on one engine. */
export interface LintOptions {
  /** The engine's rules over its SQL. */
  readonly lint: SqlLinter;
  /** A Kysely instance that compiles the engine's SQL and never connects, for a code migration's captured SQL. */
  readonly compiler: MigrationDb;
}

/** `-- mig:allow <rule-id>: <why>` in SQL; `// mig:allow <rule-id>: <why>` in a code migration. */
const ALLOW = /(?:--|\/\/)\s*mig:allow\s+([a-z0-9-]+)\s*(?::\s*(.*))?$/gim;

/**
 * The rules a migration's text accepts, each with its reason. A directive without a reason accepts nothing:
 * the reason is what a reviewer reads later.
 */
export function acceptedRules(text: string): ReadonlyMap<string, string> {
  const accepted = new Map<string, string>();
  for (const match of text.matchAll(ALLOW)) {
    const why = match[2]?.trim();
    if (match[1] && why) accepted.set(match[1].toLowerCase(), why);
  }
  return accepted;
}

/** Marks the findings the text accepts. */
export function applyAccepted(findings: readonly LintFinding[], text: string): LintFinding[] {
  const accepted = acceptedRules(text);
  return findings.map((f) => (accepted.has(f.rule) ? { ...f, accepted: accepted.get(f.rule) } : f));
}

/** The findings that no `-- mig:allow` accepts. */
export function unaccepted(lint: MigrationLint): readonly LintFinding[] {
  return lint.findings.filter((f) => f.accepted === undefined);
}

/**
 * Lints one migration: a SQL migration's up part as written; a code migration through the SQL it sends, as
 * the dry run captures it (a code migration's `-- mig:allow` lines are read from its source file).
 */
export async function lintMigration(migration: Migration<MigrationDb>, options: LintOptions): Promise<MigrationLint> {
  const module = await migration.load();
  const base = { name: migration.name, origin: migration.origin };
  if (module.sql?.up !== undefined) {
    const findings = applyAccepted(await options.lint(module.sql.up), module.sql.up);
    return { ...base, from: 'sql', findings };
  }
  const captured = await previewQueries(module.up.bind(module), options.compiler);
  const text = captured.map((q) => `${q.replace(/;\s*$/, '')};`).join('\n');
  const source = await readFile(migration.origin, 'utf8').catch(() => '');
  const findings = applyAccepted(await options.lint(text), source);
  return { ...base, from: 'captured', findings };
}

/** One line per finding: `name:line rule: reason. Fix: …`. */
export function formatFinding(lint: Pick<MigrationLint, 'name'>, finding: LintFinding): string {
  const accepted = finding.accepted === undefined ? '' : ` (accepted: ${finding.accepted})`;
  return `${lint.name}:${finding.line} ${finding.rule}: ${finding.reason}${accepted}. Fix: ${finding.fix}. Statement: ${finding.statement}`;
}
