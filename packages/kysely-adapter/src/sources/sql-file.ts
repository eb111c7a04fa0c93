/** The directives of a SQL migration file. */
export interface ParsedSqlMigration {
  readonly up: string;
  readonly down: string | undefined;
  readonly transactional: boolean;
}

const NO_TRANSACTION = /^--\s*mig:no-transaction\s*$/i;
const DOWN = /^--\s*mig:down\s*$/im;

/**
 * Reads a SQL migration: `-- mig:no-transaction` as the first non-blank line runs it outside a transaction;
 * a `-- mig:down` line starts the down part (what reverts it). Everything above that line is the up part.
 */
export function parseSqlMigration(source: string): ParsedSqlMigration {
  // An editor's byte-order mark would reach PostgreSQL as part of the first statement.
  const text = source.replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/).find((line) => line.trim() !== '');
  const transactional = !(firstLine !== undefined && NO_TRANSACTION.test(firstLine.trim()));
  const match = DOWN.exec(text);
  if (!match) return { up: text, down: undefined, transactional };
  return {
    up: text.slice(0, match.index),
    down: text.slice(match.index + match[0].length),
    transactional,
  };
}
