// What goes on the wire, counted as it is sent: every `client.query` call is one round trip (pg sends a simple
// query, or Parse/Bind/Execute/Sync, and waits for its answer); the text it carries is split into the
// top-level statements PostgreSQL will run. A DO block is one statement, however much it does inside.

/** Round trips and statements sent so far. */
export interface WireCount {
  readonly roundTrips: number;
  readonly statements: number;
}

/** The SQL text of a `client.query(...)` call: a string, or a config object with `text`. */
export function queryText(args: readonly unknown[]): string {
  const first = args[0];
  if (typeof first === 'string') return first;
  if (first && typeof first === 'object' && 'text' in first) return String((first as { text: unknown }).text);
  return '';
}

/**
 * How many top-level statements `sql` holds: the parts between semicolons outside string literals, quoted
 * identifiers, dollar-quoted bodies and comments, not counting empty parts.
 */
export function statementsIn(sql: string): number {
  let count = 0;
  let content = false;
  let i = 0;
  while (i < sql.length) {
    const skipped = skipQuoted(sql, i);
    if (skipped > i) {
      content ||= sql[i] !== '-' && sql[i] !== '/';
      i = skipped;
      continue;
    }
    const ch = sql[i] as string;
    if (ch === ';') {
      if (content) count++;
      content = false;
    } else if (!/\s/.test(ch)) {
      content = true;
    }
    i++;
  }
  return content ? count + 1 : count;
}

/** The index just past a literal, identifier, dollar-quoted body or comment starting at `i`; `i` if none. */
function skipQuoted(sql: string, i: number): number {
  const ch = sql[i];
  const next = sql[i + 1];
  if (ch === '-' && next === '-') {
    const end = sql.indexOf('\n', i);
    return end < 0 ? sql.length : end + 1;
  }
  if (ch === '/' && next === '*') {
    const end = sql.indexOf('*/', i + 2);
    return end < 0 ? sql.length : end + 2;
  }
  if (ch === "'" || ch === '"') {
    // A doubled quote inside is an escaped quote: skipping both halves keeps the scan right.
    let j = i + 1;
    while (j < sql.length) {
      if (sql[j] === ch) {
        if (sql[j + 1] === ch) j += 2;
        else return j + 1;
      } else if (ch === "'" && sql[j] === '\\' && /[eE]/.test(sql[i - 1] ?? '')) j += 2;
      else j++;
    }
    return sql.length;
  }
  if (ch === '$') {
    const tag = /^\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$/.exec(sql.slice(i, i + 64));
    if (tag) {
      const end = sql.indexOf(tag[0], i + tag[0].length);
      return end < 0 ? sql.length : end + tag[0].length;
    }
  }
  return i;
}

/**
 * Wraps `target.query` so every call counts one round trip and the statements of its text. Returns the
 * live count.
 */
export function countQueries(target: { query: (...args: unknown[]) => unknown }, into?: Counter): Counter {
  const counter = into ?? new Counter();
  const original = target.query;
  target.query = function (this: unknown, ...args: unknown[]) {
    counter.add(queryText(args));
    return original.apply(this, args);
  };
  return counter;
}

/** A running count of round trips and statements. */
export class Counter implements WireCount {
  roundTrips = 0;
  statements = 0;
  add(text: string): void {
    this.roundTrips++;
    this.statements += Math.max(1, statementsIn(text));
  }
}
