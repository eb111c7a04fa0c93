import { lineOf, type SqlStatement, skipQuoted } from '../../sql/statement.js';

/**
 * Splits a MySQL/MariaDB script into statements on the delimiters that end them: those outside quotes
 * ('…', "…", with backslash escapes and doubled quotes), backtick identifiers and comments (`-- `, `#` and
 * `/* … *\/`). A `DELIMITER $$` line changes the delimiter, as the mysql client does, so a CREATE PROCEDURE or
 * CREATE TRIGGER with a BEGIN … END body can be written as it is for that client.
 */
export function splitMysqlStatements(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  let delimiter = ';';
  let start = 0;
  let meaningful = -1; // where the current statement's first character that is not a comment is
  let i = 0;
  const n = script.length;
  const push = (end: number, next: number) => {
    if (meaningful >= 0) {
      const text = script.slice(meaningful, end).trim();
      if (text !== '') statements.push({ text, line: lineOf(script, meaningful) });
    }
    start = next;
    meaningful = -1;
  };
  while (i < n) {
    if (meaningful < 0 && atLineStart(script, i, start)) {
      const directive = /^delimiter[ \t]+(\S+)[^\n]*(\n|$)/i.exec(script.slice(i, i + 200));
      if (directive?.[1]) {
        delimiter = directive[1];
        i += directive[0].length;
        start = i;
        continue;
      }
    }
    const skipped = skipComment(script, i);
    if (skipped > i) {
      if (meaningful < 0 && /^\/\*M?!/.test(script.slice(i, i + 4))) meaningful = i; // executable comment
      i = skipped;
      continue;
    }
    if (script.startsWith(delimiter, i)) {
      push(i, i + delimiter.length);
      i += delimiter.length;
      continue;
    }
    const c = script[i] as string;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (meaningful < 0) meaningful = i;
    // Doubled quotes escape in all three; backslashes too, except in backtick-quoted names.
    i = c === "'" || c === '"' || c === '`' ? skipQuoted(script, i, c, c !== '`') : i + 1;
  }
  push(n, n);
  return statements;
}

/** Only blanks between the last line break (or the statement's start) and `i`. */
function atLineStart(script: string, i: number, start: number): boolean {
  for (let j = i - 1; j >= start; j--) {
    const c = script[j];
    if (c === '\n') return true;
    if (c !== ' ' && c !== '\t' && c !== '\r') return false;
  }
  return true;
}

/** The index just past the comment that starts at `i`, or `i` when none does. */
function skipComment(script: string, i: number): number {
  const c = script[i];
  const next = script[i + 1];
  // "--" starts a comment only when a blank (or the end) follows: "1--1" is arithmetic.
  if ((c === '-' && next === '-' && (i + 2 >= script.length || /\s/.test(script[i + 2] as string))) || c === '#') {
    const eol = script.indexOf('\n', i);
    return eol === -1 ? script.length : eol + 1;
  }
  if (c === '/' && next === '*') {
    const close = script.indexOf('*/', i + 2);
    return close === -1 ? script.length : close + 2;
  }
  return i;
}

/** Statements that change data only: InnoDB rolls them back, and none commits a transaction by itself. */
const DATA = /^(insert|update|delete|replace|select|values|table|do|with)\b/i;
/** SET statements that end or change the transaction itself. */
const SET_TRANSACTIONAL = /^set\s+(session\s+|global\s+|@@(session\.|global\.)?)?(autocommit|password|transaction)\b/i;

/**
 * The statement changes data only, so it can run inside mig's transaction and be rolled back with it:
 * INSERT, UPDATE, DELETE, REPLACE, SELECT (and WITH, VALUES, TABLE, DO) and SET of a variable. Anything else
 * (DDL, transaction control, LOCK TABLES, CALL, an executable comment) may commit by itself.
 */
export function isDataStatement(text: string): boolean {
  const body = text.replace(/^(\s+|--\s[^\n]*(\n|$)|#[^\n]*(\n|$)|\/\*(?!M?!)[\s\S]*?\*\/)+/, '');
  if (DATA.test(body)) return true;
  return /^set\b/i.test(body) && !SET_TRANSACTIONAL.test(body);
}
