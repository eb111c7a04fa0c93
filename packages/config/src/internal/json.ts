/**
 * JSON with a usable syntax error. `JSON.parse` does the parsing; when it fails, a small scanner finds where
 * and why, because V8's messages carry a position only sometimes and, worse, quote the surrounding text,
 * which may hold a password.
 */

export interface JsonSyntaxProblem {
  /** 1-based, as editors count. */
  readonly line: number;
  readonly column: number;
  readonly reason: string;
}

export type JsonResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly problem: JsonSyntaxProblem };

export function parseJson(text: string): JsonResult {
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return { ok: true, value: JSON.parse(source) };
  } catch {
    const { offset, reason } = locateJsonError(source) ?? { offset: 0, reason: 'not valid JSON' };
    return { ok: false, problem: { ...lineAndColumn(source, offset), reason } };
  }
}

function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const lineStart = before.lastIndexOf('\n') + 1;
  return { line: before.split('\n').length, column: offset - lineStart + 1 };
}

class Located {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {}
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The first syntax error in `text` (RFC 8259), or `undefined` if there is none. */
export function locateJsonError(text: string): { offset: number; reason: string } | undefined {
  try {
    new JsonScanner(text).document();
    return undefined;
  } catch (error) {
    if (error instanceof Located) return { offset: error.offset, reason: error.reason };
    throw error;
  }
}

/**
 * Reads JSON only to find its first syntax error: each method reads one construct from the current offset
 * and moves past it, or throws {@link Located} with the offset and the reason.
 */
class JsonScanner {
  readonly #text: string;
  #i = 0;

  constructor(text: string) {
    this.#text = text;
  }

  /** One value, then nothing but whitespace. */
  document(): void {
    this.#value();
    this.#skipSpace();
    if (this.#i < this.#text.length) this.#fail(`unexpected ${this.#describe()} after the end of the JSON value`);
  }

  #fail(reason: string): never {
    throw new Located(this.#i, reason);
  }

  #describe(): string {
    return this.#i >= this.#text.length ? 'end of file' : `character ${JSON.stringify(this.#text[this.#i])}`;
  }

  #skipSpace(): void {
    while (this.#i < this.#text.length && ' \t\n\r'.includes(this.#text[this.#i] as string)) this.#i++;
  }

  #value(): void {
    this.#skipSpace();
    const c = this.#text[this.#i];
    if (c === '{') {
      this.#object();
      return;
    }
    if (c === '[') {
      this.#array();
      return;
    }
    if (c === '"') {
      this.#string();
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (this.#text.startsWith(word, this.#i)) {
        this.#i += word.length;
        return;
      }
    }
    NUMBER.lastIndex = this.#i;
    if (NUMBER.exec(this.#text)) {
      this.#i = NUMBER.lastIndex;
      return;
    }
    this.#fail(`unexpected ${this.#describe()} where a value was expected`);
  }

  #string(): void {
    const text = this.#text;
    this.#i++;
    for (;;) {
      if (this.#i >= text.length) this.#fail('unterminated string');
      const c = text.charCodeAt(this.#i);
      if (c === 0x22) {
        this.#i++;
        return;
      }
      if (c < 0x20) this.#fail('line break or control character in a string; escape it');
      if (c === 0x5c) {
        this.#i++;
        const escaped = text[this.#i] ?? '';
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.#i + 1, this.#i + 5))) this.#fail('invalid \\u escape');
          this.#i += 4;
        } else if (!'"\\/bfnrt'.includes(escaped) || escaped === '') {
          this.#fail('invalid escape in a string');
        }
      }
      this.#i++;
    }
  }

  #object(): void {
    const text = this.#text;
    this.#i++;
    this.#skipSpace();
    if (text[this.#i] === '}') {
      this.#i++;
      return;
    }
    for (;;) {
      this.#skipSpace();
      if (text[this.#i] !== '"') {
        this.#fail(
          text[this.#i] === '}'
            ? 'trailing comma before "}"; remove it'
            : `expected a double-quoted property name, found ${this.#describe()}`,
        );
      }
      this.#string();
      this.#skipSpace();
      if (text[this.#i] !== ':') this.#fail(`expected ":" after a property name, found ${this.#describe()}`);
      this.#i++;
      this.#value();
      this.#skipSpace();
      if (text[this.#i] === ',') {
        this.#i++;
        continue;
      }
      if (text[this.#i] === '}') {
        this.#i++;
        return;
      }
      this.#fail(`expected "," or "}" after a property value, found ${this.#describe()}`);
    }
  }

  #array(): void {
    const text = this.#text;
    this.#i++;
    this.#skipSpace();
    if (text[this.#i] === ']') {
      this.#i++;
      return;
    }
    for (;;) {
      this.#skipSpace();
      if (text[this.#i] === ']') this.#fail('trailing comma before "]"; remove it');
      this.#value();
      this.#skipSpace();
      if (text[this.#i] === ',') {
        this.#i++;
        continue;
      }
      if (text[this.#i] === ']') {
        this.#i++;
        return;
      }
      this.#fail(`expected "," or "]" after an array element, found ${this.#describe()}`);
    }
  }
}
