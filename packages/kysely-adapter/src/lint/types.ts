/**
 * What a lint rule found in one statement of a migration: a statement that takes a lock the application's
 * queries queue behind, rewrites a table, or breaks the instances still running the old code.
 */
export interface LintFinding {
  /** The rule's id, as `-- mig:allow <rule>: <why>` names it. */
  readonly rule: string;
  /** Why it is a problem, in one line. */
  readonly reason: string;
  /** The safe way to do the same. */
  readonly fix: string;
  /** 1-based line of the statement in the migration's SQL (of the captured SQL, for a code migration). */
  readonly line: number;
  /** The start of the statement. */
  readonly statement: string;
  /** Set when the file accepts this rule: the reason it gave. */
  readonly accepted?: string | undefined;
}

/** A rule's fixed text: its id, reason and safe rewrite. */
export interface LintRule {
  readonly id: string;
  readonly reason: string;
  readonly fix: string;
}

/** One engine's linter: the findings in a migration's SQL (before any is accepted). */
export type SqlLinter = (sql: string) => Promise<readonly LintFinding[]>;
