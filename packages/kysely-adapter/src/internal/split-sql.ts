/**
 * Splits a PostgreSQL script into statements on the semicolons that end them: those outside quotes
 * ('…', E'…', "…"), dollar quotes ($$…$$, $tag$…$tag$) and comments (line comments and nested block comments). Used for
 * migrations that run outside a transaction, where a multi-statement query string would run as one
 * implicit transaction and `CREATE INDEX CONCURRENTLY` would refuse to run.
 *
 * Not handled: SQL-standard function bodies (`BEGIN ATOMIC … END`), which contain semicolons; put such a
 * function in a transactional migration, which runs the file as one script.
 */
export function splitSqlStatements(script: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let meaningful = false; // the current statement has something besides whitespace and comments
  let i = 0;
  const n = script.length;

  const push = (end: number) => {
    if (meaningful) statements.push(script.slice(start, end).trim());
    start = end + 1;
    meaningful = false;
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
    meaningful = true;
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

/**
 * Returns the index just past the closing quote: doubled quotes escape, and backslashes where asked
 * (PostgreSQL's E'…', MySQL's strings).
 */
export function skipQuoted(script: string, open: number, quote: string, backslashEscapes: boolean): number {
  let i = open + 1;
  while (i < script.length) {
    const c = script[i];
    if (backslashEscapes && c === '\\') {
      i += 2;
      continue;
    }
    if (c === quote) {
      if (script[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return script.length;
}
