import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  type ConfigLogger,
  type LoadConfigOptions,
  loadConfig,
  logConfig,
  summarizeConfig,
} from '../src/index.js';
import { tempProject } from './temp-project.js';

const PASSWORD = 'Tr0ub4dor&3-horse';
const ENCODED = encodeURIComponent(PASSWORD); // Tr0ub4dor%263-horse
const SECRETS = [PASSWORD, ENCODED, 'Tr0ub4dor'];

/** Everything a person or a log could see of `value`: JSON, util.inspect (stack, cause, hidden fields). */
function everyRendering(value: unknown): string {
  let json: string;
  try {
    json = JSON.stringify(value) ?? '';
  } catch {
    json = '';
  }
  return `${json}\n${inspect(value, { depth: 10, showHidden: true, getters: true })}\n${String(value)}`;
}

function expectNoSecret(value: unknown): void {
  const text = everyRendering(value);
  for (const secret of SECRETS) expect(text).not.toContain(secret);
}

function captureLogs(): { logger: ConfigLogger; lines: unknown[] } {
  const lines: unknown[] = [];
  return {
    lines,
    logger: { info: (fields, msg) => lines.push([fields, msg]), warn: (fields, msg) => lines.push([fields, msg]) },
  };
}

describe('secrets never reach an output', () => {
  const urls = [
    `postgres://app:${ENCODED}@db.internal:5432/app`,
    `postgresql://app:${ENCODED}@[2001:db8::1]:5432/app`,
    `postgres://db.internal/app?password=${ENCODED}`,
    `postgres://app@db.internal/app?sslmode=verify-full&sslpassword=${ENCODED}`,
  ];

  it.each(urls)('a valid DATABASE_URL %s: summary, log lines, warnings and the serialized result', async (url) => {
    const dir = await tempProject({});
    const resolved = await loadConfig({
      cwd: dir,
      env: { DATABASE_URL: url, NODE_ENV: 'production', AUTO_MIGRATE: 'on' },
    });
    // The app needs the real URL…
    expect(resolved.values.databaseUrl).toBe(url);
    // …but nothing meant to be shown or logged carries it.
    expectNoSecret(resolved);
    expectNoSecret(resolved.values);
    expectNoSecret(summarizeConfig(resolved));
    expectNoSecret(resolved.warnings);
    const { logger, lines } = captureLogs();
    logConfig(resolved, logger);
    expect(lines).toHaveLength(2);
    expectNoSecret(lines);
  });

  it('a libSQL auth token in DATABASE_AUTH_TOKEN, or in the URL: summary, log lines and the serialized result', async () => {
    const dir = await tempProject({});
    const resolved = await loadConfig({
      cwd: dir,
      env: { DATABASE_URL: `libsql://shop.turso.io?authToken=${ENCODED}`, DATABASE_AUTH_TOKEN: PASSWORD },
    });
    expect(resolved.values.databaseAuthToken).toBe(PASSWORD);
    expectNoSecret(resolved);
    expectNoSecret(resolved.values);
    expectNoSecret(summarizeConfig(resolved));
    const { logger, lines } = captureLogs();
    logConfig(resolved, logger);
    expectNoSecret(lines);
  });

  const failing: [string, LoadConfigOptions | ((dir: string) => LoadConfigOptions), Record<string, string>?][] = [
    ['a URL of an engine mig does not read', { env: { DATABASE_URL: `mssql://app:${PASSWORD}@db/app` } }],
    ['an unparsable URL', { env: { DATABASE_URL: `postgres://app:${PASSWORD}#@db:port/app` } }],
    ['an unparsable URL without scheme', { env: { DATABASE_URL: `app:${PASSWORD}@db/app` } }],
    ['a libpq keyword string', { env: { DATABASE_URL: `host=db user=app password=${PASSWORD}` } }],
    ['a secret query parameter in a bad URL', { env: { DATABASE_URL: `mssql://db/app?sslpassword=${ENCODED}` } }],
    ['a URL in a flag', { overrides: { databaseUrl: `mssql://app:${ENCODED}@db/app` } }],
    ['a URL given where a boolean belongs', { env: { AUTO_MIGRATE: `postgres://app:${ENCODED}@db/app` } }],
    ['user:password@host where a duration belongs', { env: { MIGRATION_CACHE_TTL: `app:${PASSWORD}@db` } }],
    ['a mistyped key holding a URL', { overrides: { databaseURL: `postgres://app:${ENCODED}@db/app` } as never }],
    ['a key named password', { overrides: { password: PASSWORD } as never }],
    ['a nested object holding a password', { overrides: { databaseUrl: { host: 'db', password: PASSWORD } as never } }],
    [
      'a file with a URL and a syntax error',
      {},
      {
        'mig.config.ts': `export default {\n  databaseUrl: 'postgres://app:${PASSWORD}@db/app'\n  lockTimeout: '5s',\n};\n`,
      },
    ],
    [
      'a JSON file with a URL and a syntax error on the same line',
      {},
      { 'mig.config.json': `{ "databaseUrl": "postgres://app:${ENCODED}@db/app",, }` },
    ],
    [
      'a JSON file whose syntax error is inside the password',
      {},
      { '.migrc': `{ "databaseUrl": "postgres://app:${PASSWORD}\n@db/app" }` },
    ],
    [
      'a config module that throws with the URL in its message',
      {},
      { 'mig.config.mjs': `throw new Error('cannot reach postgres://app:${ENCODED}@db/app');` },
    ],
    [
      'a file with a bad URL and an unknown key',
      {},
      { 'mig.config.json': JSON.stringify({ databaseUrl: `mysql://app:${ENCODED}@db/app`, pasword: PASSWORD }) },
    ],
  ];

  it.each(failing)('%s: the ConfigError, its problems and its message', async (_, options, files = {}) => {
    const dir = await tempProject(files);
    const resolvedOptions = typeof options === 'function' ? options(dir) : options;
    // As the CLI and the service call it: with the URL forms their engines read.
    const error = await loadConfig({
      cwd: dir,
      env: {},
      databaseUrls: ['postgres://…', 'mysql://…'],
      ...resolvedOptions,
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ConfigError);
    const configError = error as ConfigError;
    expect(configError.problems.length).toBeGreaterThan(0);
    expectNoSecret(configError);
    expectNoSecret(configError.problems);
    expectNoSecret(configError.message);
    expectNoSecret(configError.stack);
    expect(configError.cause).toBeUndefined();
  });
});
