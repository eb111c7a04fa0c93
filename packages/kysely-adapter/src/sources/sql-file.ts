/** The directives of a SQL migration file. */
export interface ParsedSqlMigration {
  readonly up: string;
  readonly down: string | undefined;
  readonly transactional: boolean;
  /**
   * The up part is wrapped in its own top-level `BEGIN; … COMMIT;` (as Prisma writes enum changes): it runs
   * as written, with no transaction of mig's, and is recorded after its own commit. `transactional` is false.
   */
  readonly own: boolean;
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
  if (!match) return withOwnTransaction({ up: text, down: undefined, transactional, own: false });
  return withOwnTransaction({
    up: text.slice(0, match.index),
    down: text.slice(match.index + match[0].length),
    transactional,
    own: false,
  });
}

const OWN_BEGIN = /^(?:begin(?:\s+(?:transaction|work))?|start\s+transaction)\s*;/i;
const OWN_COMMIT = /;\s*(?:commit|end)(?:\s+(?:transaction|work))?\s*;?$/i;

/** Marks a migration whose up part opens with BEGIN and closes with COMMIT as controlling its own transaction. */
export function withOwnTransaction(parsed: ParsedSqlMigration): ParsedSqlMigration {
  const code = parsed.up
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/^\s*--.*$/gm, '')
    .trim();
  const own = OWN_BEGIN.test(code) && OWN_COMMIT.test(code);
  return own ? { ...parsed, transactional: false, own: true } : parsed;
}
