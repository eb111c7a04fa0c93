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
  /** The value of a `-- mig:statement-timeout 5min` line, as written (checked by `statementTimeoutMs`). */
  readonly statementTimeout?: string | undefined;
}

const NO_TRANSACTION = /^--\s*mig:no-transaction\s*$/i;
const DOWN = /^--\s*mig:down\s*$/im;
const STATEMENT_TIMEOUT = /^--\s*mig:statement-timeout\s+(\S.*?)\s*$/im;
const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|sec|min|m|h)?$/i;
const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, sec: 1_000, min: 60_000, m: 60_000, h: 3_600_000 };

/** `5min`, `30s`, `1500ms`, `1h` (a bare number is milliseconds) in ms; undefined when it is none of these. */
export function statementTimeoutMs(text: string): number | undefined {
  const match = DURATION.exec(text.trim());
  if (!match?.[1]) return undefined;
  return Math.round(Number(match[1]) * (UNIT_MS[(match[2] ?? 'ms').toLowerCase()] ?? 1));
}

/**
 * Reads a SQL migration: `-- mig:no-transaction` as the first non-blank line runs it outside a transaction;
 * a `-- mig:down` line starts the down part (what reverts it). Everything above that line is the up part. A
 * `-- mig:statement-timeout 5min` line bounds each of its statements (PostgreSQL's statement_timeout).
 */
export function parseSqlMigration(source: string): ParsedSqlMigration {
  // An editor's byte-order mark would reach PostgreSQL as part of the first statement.
  const text = source.replace(/^\uFEFF/, '');
  const firstLine = text.split(/\r?\n/).find((line) => line.trim() !== '');
  const transactional = !(firstLine !== undefined && NO_TRANSACTION.test(firstLine.trim()));
  const match = DOWN.exec(text);
  const up = match ? text.slice(0, match.index) : text;
  const statementTimeout = STATEMENT_TIMEOUT.exec(up)?.[1];
  return withOwnTransaction({
    up,
    down: match ? text.slice(match.index + match[0].length) : undefined,
    transactional,
    own: false,
    ...(statementTimeout === undefined ? {} : { statementTimeout }),
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
