import { lineOf, type SqlStatement, skipQuoted } from '../../sql/statement.js';

/**
 * Splits a PostgreSQL script into statements on the semicolons that end them: those outside quotes
 * ('…', E'…', "…"), dollar quotes ($$…$$, $tag$…$tag$) and comments (line comments and nested block comments). Used for
 * migrations that run outside a transaction, where a multi-statement query string would run as one
 * implicit transaction and `CREATE INDEX CONCURRENTLY` would refuse to run.
 *
 * Not handled: SQL-standard function bodies (`BEGIN ATOMIC … END`), which contain semicolons; put such a
 * function in a transactional migration, which runs the file as one script.
 */
export function splitPostgresStatements(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let start = 0;
  let first = -1; // where the current statement's first character besides whitespace and comments is
  let i = 0;
  const n = script.length;

  const push = (end: number) => {
    if (first >= 0) statements.push({ text: script.slice(start, end).trim(), line: lineOf(script, first) });
    start = end + 1;
    first = -1;
  };

  while (i < n) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (script[i] === '/' && script[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (script[i] === '*' && script[i + 1] === '/') {
          depth--;
          i += 2;
        } else {
          i++;
        }
      }
      continue;
    }
    if (c === ';') {
      push(i);
      i++;
      continue;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (first < 0) first = i;
    if (c === "'") {
      const escapes = i > 0 && /[eE]/.test(script[i - 1] as string) && !isIdentChar(script[i - 2]);
      i = skipQuoted(script, i, "'", escapes);
      continue;
    }
    if (c === '"') {
      i = skipQuoted(script, i, '"', false);
      continue;
    }
    if (c === '$' && !isIdentChar(script[i - 1])) {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(script.slice(i, i + 64));
      if (tag) {
        const close = script.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? n : close + tag[0].length;
        continue;
      }
    }
    i++;
  }
  push(n);
  return statements;
}

function isIdentChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}
