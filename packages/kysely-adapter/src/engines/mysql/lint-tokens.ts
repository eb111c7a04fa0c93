import { skipQuoted } from '../../sql/statement.js';

// A MySQL/MariaDB statement as tokens: words and numbers, `quoted` names, 'strings', and punctuation, with
// comments left out (the body of an executable comment, /*!50100 … */, is read as code, as the server does).
// The lint rules read statements through these, clause by clause, never by matching text.

export interface Token {
  readonly kind: 'word' | 'name' | 'string' | 'punct';
  /** A word in upper case, a quoted name unquoted, a string as written, the punctuation itself. */
  readonly text: string;
}

export function tokenize(statement: string): Token[] {
  const tokens: Token[] = [];
  const n = statement.length;
  let i = 0;
  while (i < n) {
    const c = statement[i] as string;
    const next = statement[i + 1];
    if (/\s/.test(c)) {
      i++;
    } else if ((c === '-' && next === '-' && (i + 2 >= n || /\s/.test(statement[i + 2] as string))) || c === '#') {
      const eol = statement.indexOf('\n', i);
      i = eol === -1 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      const executable = /^\/\*M?!\d*/.exec(statement.slice(i, i + 12));
      if (executable) {
        i += executable[0].length; // its body is code; its closing */ is skipped below
      } else {
        const close = statement.indexOf('*/', i + 2);
        i = close === -1 ? n : close + 2;
      }
    } else if (c === '*' && next === '/') {
      i += 2;
    } else if (c === '`' || c === '"') {
      const end = skipQuoted(statement, i, c, c !== '`');
      const body = statement.slice(i + 1, end - 1).replaceAll(c + c, c);
      // ANSI_QUOTES aside, "…" is a string in MySQL; either way it never names what the rules look for.
      tokens.push({ kind: c === '`' ? 'name' : 'string', text: body });
      i = end;
    } else if (c === "'") {
      const end = skipQuoted(statement, i, c, true);
      tokens.push({ kind: 'string', text: statement.slice(i, end) });
      i = end;
    } else if (/[A-Za-z0-9_$@\u0080-\uffff]/.test(c)) {
      let j = i + 1;
      while (j < n && /[A-Za-z0-9_$@.\u0080-\uffff]/.test(statement[j] as string)) j++;
      tokens.push({ kind: 'word', text: statement.slice(i, j).toUpperCase() });
      i = j;
    } else {
      tokens.push({ kind: 'punct', text: c });
      i++;
    }
  }
  return tokens;
}

/** A cursor over a statement's tokens. */
export class Tokens {
  private at = 0;
  constructor(private readonly tokens: readonly Token[]) {}

  get done(): boolean {
    return this.at >= this.tokens.length;
  }

  peek(offset = 0): Token | undefined {
    return this.tokens[this.at + offset];
  }

  next(): Token | undefined {
    const t = this.peek();
    if (t !== undefined) this.at++;
    return t;
  }

  /** Takes the next token if it is one of these words. */
  word(...words: string[]): string | undefined {
    const t = this.peek();
    if (t?.kind === 'word' && words.includes(t.text)) {
      this.at++;
      return t.text;
    }
    return undefined;
  }

  /** Takes these words in order, or none of them. */
  words(...words: string[]): boolean {
    for (let k = 0; k < words.length; k++) {
      const t = this.peek(k);
      if (t?.kind !== 'word' || t.text !== words[k]) return false;
    }
    this.at += words.length;
    return true;
  }

  punct(text: string): boolean {
    if (this.peek()?.kind === 'punct' && this.peek()?.text === text) {
      this.at++;
      return true;
    }
    return false;
  }

  /**
   * A table or index name, possibly qualified (`db`.`t`, db.t): its last part, lowercase. Unquoted parts come
   * as one word with their dots (the tokenizer keeps `db.t` whole).
   */
  name(): string | undefined {
    let last: string | undefined;
    for (;;) {
      const t = this.peek();
      if (t === undefined || (t.kind !== 'word' && t.kind !== 'name')) return last;
      this.at++;
      last = (t.kind === 'word' ? (t.text.split('.').at(-1) ?? '') : t.text).toLowerCase();
      if (!this.punct('.')) return last;
    }
  }

  /** The rest, split on the commas outside parentheses. */
  clauses(): Tokens[] {
    const out: Token[][] = [[]];
    let depth = 0;
    for (; this.at < this.tokens.length; this.at++) {
      const t = this.tokens[this.at] as Token;
      if (t.kind === 'punct' && t.text === '(') depth++;
      if (t.kind === 'punct' && t.text === ')') depth--;
      if (t.kind === 'punct' && t.text === ',' && depth === 0) out.push([]);
      else (out.at(-1) as Token[]).push(t);
    }
    return out.filter((c) => c.length > 0).map((c) => new Tokens(c));
  }

  /** Every word left, in order, outside strings and names. */
  restWords(): string[] {
    return this.tokens
      .slice(this.at)
      .filter((t) => t.kind === 'word')
      .map((t) => t.text);
  }
}
