/** One statement of a SQL script, and the line of the script it starts on (1-based). */
export interface SqlStatement {
  readonly text: string;
  readonly line: number;
}

/** Splits a SQL script into its statements, as one engine reads them. */
export type SqlSplitter = (script: string) => SqlStatement[];

/**
 * Returns the index just past the closing quote that matches the one at `open`: doubled quotes escape, and
 * backslashes where asked (PostgreSQL's E'…', MySQL's strings).
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

/** The 1-based line of `index` in `script`. */
export function lineOf(script: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (script.charCodeAt(i) === 10) line++;
  return line;
}

/** The first line of a statement, shortened, for messages. */
export function firstLine(text: string, max = 80): string {
  const line = (text.split('\n').find((l) => l.trim() !== '') ?? '').trim();
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * The statements of a SQL script for a source that was not told its engine's splitter, read the way most
 * engines agree on: semicolons outside '…', "…" and `…` (doubled quotes escape), outside dollar quotes
 * ($$…$$, $tag$…$tag$) and outside `--` and (nested) `/* … *\/` comments end a statement. It serves the
 * source's own checks only: each engine splits a migration with its own splitter when it runs it (backslash
 * escapes, DELIMITER lines, trigger bodies).
 */
export function splitStandardSql(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let first = -1; // index of the current statement's first character outside comments
  let i = 0;
  const n = script.length;
  const push = (end: number) => {
    if (first >= 0) statements.push({ text: script.slice(first, end).trim(), line: lineOf(script, first) });
    first = -1;
  };
  while (i < n) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      i = skipBlockComment(script, i);
    } else if (c === ';') {
      push(i);
      i++;
    } else if (/\s/.test(c)) {
      i++;
    } else {
      if (first < 0) first = i;
      i = skipToken(script, i);
    }
  }
  push(n);
  return statements;
}

/** Past a (possibly nested) block comment that starts at `open`. */
function skipBlockComment(script: string, open: number): number {
  let depth = 1;
  let i = open + 2;
  while (i < script.length && depth > 0) {
    if (script.startsWith('/*', i)) {
      depth++;
      i += 2;
    } else if (script.startsWith('*/', i)) {
      depth--;
      i += 2;
    } else {
      i++;
    }
  }
  return i;
}

/** Past a quoted string or name, a dollar-quoted body, or one other character. */
function skipToken(script: string, i: number): number {
  const c = script[i] as string;
  if (c === "'" || c === '"' || c === '`') return skipQuoted(script, i, c, false);
  if (c === '$' && !/[A-Za-z0-9_$]/.test(script[i - 1] ?? '')) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i, i + 64));
    if (tag) {
      const close = script.indexOf(tag[0], i + tag[0].length);
      return close === -1 ? script.length : close + tag[0].length;
    }
  }
  return i + 1;
}
