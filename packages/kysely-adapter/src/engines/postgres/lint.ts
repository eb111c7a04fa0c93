import { describeThrown } from '@mig/core/adapter';
import type { LintFinding } from '../../lint/types.js';
import { checkStatement, newScope, POSTGRES_RULES } from './lint-rules.js';

// PostgreSQL's own parser (libpg_query compiled to WebAssembly): loaded on the first lint only, so that a
// service that never lints loads none of it.

interface ParsedStatement {
  readonly stmt?: Record<string, unknown>;
  readonly stmt_location?: number;
  readonly stmt_len?: number;
}

type Parse = (sql: string) => Promise<{ stmts?: ParsedStatement[] }>;

let parser: Promise<Parse> | undefined;

/** The parser, its WebAssembly loaded once: a failure to load is thrown as it is, never taken for bad SQL. */
function loadParser(): Promise<Parse> {
  parser ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    return m.parse as unknown as Parse;
  });
  return parser;
}

/** The parser's own syntax error (libpg-query's SqlError). */
function isSyntaxError(error: unknown): boolean {
  return error instanceof Error && error.name === 'SqlError';
}

/** Most characters of a statement shown in a finding. */
const STATEMENT_START = 100;

/** The findings of the PostgreSQL rules in one migration's SQL, in statement order. */
export async function lintPostgresSql(sql: string): Promise<readonly LintFinding[]> {
  const parse = await loadParser();
  let statements: ParsedStatement[];
  try {
    statements = (await parse(sql)).stmts ?? [];
  } catch (error) {
    if (!isSyntaxError(error)) throw error;
    const rule = POSTGRES_RULES.unparsable;
    return [
      {
        rule: rule.id,
        reason: `${rule.reason} (${describeThrown(error)})`,
        fix: rule.fix,
        line: 1,
        statement: start(sql),
      },
    ];
  }
  const scope = newScope();
  const findings: LintFinding[] = [];
  for (const parsed of statements) {
    if (parsed.stmt === undefined) continue;
    const from = parsed.stmt_location ?? 0;
    const text = sql.slice(from, parsed.stmt_len === undefined ? undefined : from + parsed.stmt_len);
    const leading = /^(?:\s|--[^\n]*\n?|\/\*[\s\S]*?\*\/)*/.exec(text)?.[0].length ?? 0;
    const line = lineAt(sql, from + leading);
    for (const key of checkStatement(parsed.stmt, scope)) {
      const rule = POSTGRES_RULES[key];
      findings.push({ rule: rule.id, reason: rule.reason, fix: rule.fix, line, statement: start(text.slice(leading)) });
    }
  }
  return findings;
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function start(statement: string): string {
  const flat = statement.replace(/\s+/g, ' ').trim();
  return flat.length > STATEMENT_START ? `${flat.slice(0, STATEMENT_START - 1)}…` : flat;
}
