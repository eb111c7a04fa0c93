import type { Logger } from '@mig/core';

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface AppLogger extends Logger {
  child(bindings: object): AppLogger;
}

/**
 * A small pino-compatible logger (fields first, then the message) writing one JSON line per entry, as
 * log collectors expect. Any pino instance can replace it: mig only needs debug/info/warn/error.
 */
export function createLogger(
  options: { level?: Level; write?: (line: string) => void; bindings?: object } = {},
): AppLogger {
  const min = ORDER[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const bindings = options.bindings ?? {};
  const at =
    (level: Level) =>
    (fields: object, message?: string): void => {
      if (ORDER[level] < min) return;
      write(JSON.stringify({ level, time: new Date().toISOString(), ...bindings, ...fields, msg: message }));
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => createLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}
