import type { Logger } from '@mig/core';

/** Where the console logger writes: `console` by default; a test passes its own. */
export interface ConsoleLike {
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

/**
 * A logger for services that have none to give: one line per event, `[mig] message`, then the fields as
 * compact JSON. Debug lines are dropped. Pass your own (pino, or any logger with its call shape) instead.
 *
 * @example
 * createDatabase({ logger: createConsoleLogger() }); // the default
 */
export function createConsoleLogger(out: ConsoleLike = console): Logger {
  const line = (fields: object, message?: string) => {
    const details = Object.keys(fields).length > 0 ? ` ${JSON.stringify(fields)}` : '';
    return `[mig] ${message ?? ''}${details}`;
  };
  return {
    debug() {},
    info: (fields, message) => out.info(line(fields, message)),
    warn: (fields, message) => out.warn(line(fields, message)),
    error: (fields, message) => out.error(line(fields, message)),
  };
}
