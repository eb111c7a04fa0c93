import type { Logger } from '@mig/core';
import { redactCredentials } from '@mig/core/adapter';
import type { Shutdown } from './shutdown.js';

/** Where a command writes: the document on stdout, everything else (progress, logs) on stderr. */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** Where a confirmation is read from (`mig repair`); without a terminal there, nothing is asked. */
  readonly stdin?: (NodeJS.ReadableStream & { isTTY?: boolean; pause(): unknown }) | undefined;
  /** SIGINT and SIGTERM, when this runs as the `mig` process (see `listenForShutdown`). */
  readonly shutdown?: Shutdown | undefined;
}

export interface Output {
  readonly json: boolean;
  /** Writes the command's result: JSON (one document) or the human text. */
  result(document: Record<string, unknown>, human: () => string): void;
  /** A progress line on stderr. */
  progress(line: string): void;
  readonly color: Colors;
  readonly logger: Logger;
}

export interface Colors {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

/** Colours only for a terminal, and never with NO_COLOR set (https://no-color.org). */
export function colors(stream: { isTTY?: boolean }, env: Io['env']): Colors {
  const on = stream.isTTY === true && (env.NO_COLOR ?? '') === '' && env.TERM !== 'dumb';
  const wrap = (open: number, close: number) => (text: string) =>
    on ? `\u001b[${open}m${text}\u001b[${close}m` : text;
  return { green: wrap(32, 39), red: wrap(31, 39), yellow: wrap(33, 39), dim: wrap(2, 22), bold: wrap(1, 22) };
}

export function createOutput(io: Io, json: boolean): Output {
  const err = colors(io.stderr, io.env);
  const write = (line: string) => io.stderr.write(`${redactCredentials(line)}\n`);
  const log = (prefix: string) => (fields: object, message?: string) => {
    if (message) write(`${prefix}${message}`);
    else write(`${prefix}${JSON.stringify(fields)}`);
  };
  return {
    json,
    color: colors(io.stdout, io.env),
    result(document, human) {
      io.stdout.write(json ? `${JSON.stringify(document, null, 2)}\n` : `${human()}\n`);
    },
    progress: write,
    logger: {
      debug() {},
      // The CLI prints its own progress; the library's info lines would repeat it.
      info() {},
      warn: log(err.yellow('warning: ')),
      // A failure ends the command, which prints it once, in whole, with what was and was not done; the
      // library's own error lines would say it a second time.
      error() {},
    },
  };
}

export function formatMs(ms: number): string {
  return ms < 1_000 ? `${Math.round(ms)} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

/** Pads columns of a small table. */
export function table(rows: readonly (readonly string[])[], indent = '  '): string {
  const widths: number[] = [];
  for (const row of rows) {
    for (const [i, cell] of row.entries()) widths[i] = Math.max(widths[i] ?? 0, visibleLength(cell));
  }
  return rows
    .map((row) => indent + row.map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i] ?? 0))).join('  '))
    .join('\n');
}

function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strips ANSI colour codes to measure text.
  return text.replace(/\u001b\[\d+m/g, '').length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - visibleLength(text)));
}
