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
  let i = 0;
  const fail = (reason: string): never => {
    throw new Located(i, reason);
  };
  const describe = (): string => (i >= text.length ? 'end of file' : `character ${JSON.stringify(text[i])}`);
  const skipSpace = (): void => {
    while (i < text.length && ' \t\n\r'.includes(text[i] as string)) i++;
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail('line break or control character in a string; escape it');
      if (c === 0x5c) {
        i++;
        const escaped = text[i] ?? '';
        if (escaped === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) fail('invalid \\u escape');
          i += 4;
        } else if (!'"\\/bfnrt'.includes(escaped) || escaped === '') {
          fail('invalid escape in a string');
        }
      }
      i++;
    }
  };
  const value = (): void => {
    skipSpace();
    const c = text[i];
    if (c === '{') {
      object();
      return;
    }
    if (c === '[') {
      array();
      return;
    }
    if (c === '"') {
      string();
      return;
    }
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    if (NUMBER.exec(text)) {
      i = NUMBER.lastIndex;
      return;
    }
    fail(`unexpected ${describe()} where a value was expected`);
  };
  const object = (): void => {
    i++;
    skipSpace();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      skipSpace();
      if (text[i] !== '"') {
        fail(
          text[i] === '}'
            ? 'trailing comma before "}"; remove it'
            : `expected a double-quoted property name, found ${describe()}`,
        );
      }
      string();
      skipSpace();
      if (text[i] !== ':') fail(`expected ":" after a property name, found ${describe()}`);
      i++;
      value();
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(`expected "," or "}" after a property value, found ${describe()}`);
    }
  };
  const array = (): void => {
    i++;
    skipSpace();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      skipSpace();
      if (text[i] === ']') fail('trailing comma before "]"; remove it');
      value();
      skipSpace();
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(`expected "," or "]" after an array element, found ${describe()}`);
    }
  };
  try {
    value();
    skipSpace();
    if (i < text.length) fail(`unexpected ${describe()} after the end of the JSON value`);
    return undefined;
  } catch (error) {
    if (error instanceof Located) return { offset: error.offset, reason: error.reason };
    throw error;
  }
}
