import { lineOf, type SqlStatement } from '../../sql/statement.js';

/**
 * Splits a SQLite script into its statements, as SQLite itself reads them: semicolons inside quotes ('…',
 * "…", `…`, […]) and comments do not end a statement, and neither do those inside the BEGIN … END body of a
 * CREATE TRIGGER (where the END of a CASE expression is told from the body's own). Pieces that hold nothing but blanks and comments are dropped. better-sqlite3 prepares one
 * statement at a time, so a migration's script is sent statement by statement.
 */
export function splitSqliteStatements(script: string): SqlStatement[] {
  const statements: SqlStatement[] = [];
  const state = freshStatement();
  let start = 0;
  let i = 0;
  while (i < script.length) {
    const c = script[i] as string;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      i = endOf(script, '\n', i + 2);
    } else if (c === '/' && next === '*') {
      i = endOf(script, '*/', i + 2);
    } else if (c === "'" || c === '"' || c === '`' || c === '[') {
      i = endOfQuoted(script, c === '[' ? ']' : c, i + 1);
      state.sawToken = true;
      state.last = '';
    } else if (/[A-Za-z_]/.test(c)) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(script.slice(i, i + 64))?.[0] ?? c;
      i += word.length;
      readWord(state, word.toUpperCase());
    } else if (c === ';') {
      i += 1;
      if (state.trigger && !(state.body && state.last === 'END')) continue;
      if (state.sawToken) statements.push(statementAt(script, start, i));
      start = i;
      Object.assign(state, freshStatement());
    } else {
      if (!/\s/.test(c)) {
        state.sawToken = true;
        state.last = c;
      }
      i += 1;
    }
  }
  if (state.sawToken) statements.push(statementAt(script, start, script.length));
  return statements;
}

interface StatementState {
  /** Its first words, for telling a CREATE TRIGGER. */
  words: string[];
  trigger: boolean;
  /** Past the BEGIN of a trigger's body. */
  body: boolean;
  /** CASE expressions open in a trigger's body: their END does not end the body. */
  cases: number;
  /** The last word (upper case) or symbol seen. */
  last: string;
  sawToken: boolean;
}

function freshStatement(): StatementState {
  return { words: [], trigger: false, body: false, cases: 0, last: '', sawToken: false };
}

function readWord(state: StatementState, word: string): void {
  state.sawToken = true;
  state.last = word;
  if (state.words.length < 3) {
    state.words.push(word);
    const [first, second, third] = state.words;
    state.trigger =
      first === 'CREATE' &&
      (second === 'TRIGGER' || ((second === 'TEMP' || second === 'TEMPORARY') && third === 'TRIGGER'));
  }
  if (!state.trigger) return;
  if (word === 'BEGIN') state.body = true;
  if (!state.body) return;
  if (word === 'CASE') state.cases += 1;
  if (word === 'END' && state.cases > 0) {
    state.cases -= 1;
    state.last = 'END CASE';
  }
}

/** The index just past `end` (or the end of the text) from `from`. */
function endOf(text: string, end: string, from: number): number {
  const at = text.indexOf(end, from);
  return at === -1 ? text.length : at + end.length;
}

/** The index just past the closing `quote`; a doubled quote inside stands for itself. */
function endOfQuoted(text: string, quote: string, from: number): number {
  let i = from;
  for (;;) {
    const at = text.indexOf(quote, i);
    if (at === -1) return text.length;
    if (quote !== ']' && text[at + 1] === quote) {
      i = at + 2;
      continue;
    }
    return at + 1;
  }
}

/** The statement between `start` and `end`, with the line its first token is on (comments skipped). */
function statementAt(script: string, start: number, end: number): SqlStatement {
  const text = script.slice(start, end).trim();
  let i = start;
  for (;;) {
    while (i < end && /\s/.test(script[i] as string)) i++;
    if (script.startsWith('--', i)) i = endOf(script, '\n', i + 2);
    else if (script.startsWith('/*', i)) i = endOf(script, '*/', i + 2);
    else break;
  }
  return { text, line: lineOf(script, Math.min(i, end)) };
}
