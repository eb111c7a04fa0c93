import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, type LoadConfigOptions, loadConfig } from '../src/index.js';
import { tempProject } from './temp-project.js';

async function loadError(options: LoadConfigOptions): Promise<ConfigError> {
  const error = await loadConfig(options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

const TS_CONFIG = `import { defineConfig } from '@mig/config';
import type { MigConfigInput } from '@mig/config';

interface Team { readonly name: string }
const team: Team = { name: 'payments' };
const timeout = (seconds: number): string => \`\${seconds}s\`;

export default defineConfig({
  lockTimeout: timeout(7),
  table: \`\${team.name}_migrations\`,
} satisfies MigConfigInput);
`;

const MTS_CONFIG = `const strategies = ['advisory', 'lease'] as const;
type Strategy = (typeof strategies)[number];
const strategy: Strategy = strategies[1];
enum Seconds { Lock = 7 }
export default { lockTimeout: Seconds.Lock * 1000, lockStrategy: strategy };
`;

describe('config file formats', () => {
  // [file name, content, extra files]: each sets lockTimeout to 7s
  const formats: [string, string, Record<string, string>?][] = [
    ['mig.config.json', '{ "lockTimeout": "7s" }'],
    ['.migrc', '{ "lockTimeout": "7s" }'],
    ['.migrc.json', '{\n  "lockTimeout": 7000\n}\n'],
    ['package.json', JSON.stringify({ name: 'svc', mig: { lockTimeout: '7s' } })],
    ['mig.config.js', 'module.exports = { lockTimeout: "7s" };'],
    ['mig.config.js', 'export default { lockTimeout: "7s" };', { 'package.json': '{ "type": "module" }' }],
    ['mig.config.mjs', 'export default { lockTimeout: "7s" };'],
    ['mig.config.cjs', 'module.exports = { lockTimeout: "7s" };'],
    ['mig.config.ts', TS_CONFIG],
    ['mig.config.mts', MTS_CONFIG],
    ['.migrc.js', 'module.exports = { lockTimeout: 7000 };'],
    ['.migrc.mjs', 'export default { lockTimeout: 7000 };'],
    ['.migrc.cjs', 'module.exports = { lockTimeout: 7000 };'],
    ['.migrc.ts', 'const ms: number = 7000;\nexport default { lockTimeout: ms };\n'],
    [
      'mig.config.mjs',
      "import { defineConfig } from '@mig/config';\nexport default defineConfig({ lockTimeout: '7s' });",
    ],
  ];

  it.each(formats)('loads %s (%#)', async (name, content, extra = {}) => {
    const dir = await tempProject({ ...extra, [name]: content });
    const resolved = await loadConfig({ cwd: dir, env: {} });
    expect(resolved.file).toBe(join(dir, name));
    expect(resolved.values.lockTimeoutMs).toBe(7_000);
    expect(resolved.sources.lockTimeoutMs).toBe('file');
  });

  it('runs TypeScript: annotations, interfaces, satisfies, enums and defineConfig from @mig/config', async () => {
    const dir = await tempProject({ 'mig.config.ts': TS_CONFIG, 'other/mig.config.mts': MTS_CONFIG });
    expect((await loadConfig({ cwd: dir, env: {} })).values.table).toBe('payments_migrations');
    const mts = await loadConfig({ cwd: dir, env: {}, configFile: 'other/mig.config.mts' });
    expect(mts.values.lockStrategy).toBe('lease');
  });

  it('reads a module that exports named values only as its settings', async () => {
    const dir = await tempProject({ 'mig.config.mjs': 'export const lockTimeout = "7s";' });
    expect((await loadConfig({ cwd: dir, env: {} })).values.lockTimeoutMs).toBe(7_000);
  });

  it('takes the first search place in a folder: package.json, then .migrc*, then mig.config.*', async () => {
    const dir = await tempProject({
      'package.json': JSON.stringify({ name: 'svc', mig: { schema: 'from_package' } }),
      '.migrc.json': '{ "schema": "from_rc" }',
      'mig.config.ts': 'export default { schema: "from_ts" };',
    });
    expect((await loadConfig({ cwd: dir, env: {} })).values.schema).toBe('from_package');
    const noPackageKey = await tempProject({
      '.migrc.json': '{ "schema": "from_rc" }',
      'mig.config.ts': 'export default { schema: "from_ts" };',
    });
    expect((await loadConfig({ cwd: noPackageKey, env: {} })).values.schema).toBe('from_rc');
  });
});

describe('file discovery', () => {
  it('searches from cwd upward to the package root', async () => {
    const dir = await tempProject({ 'mig.config.json': '{ "schema": "found" }', 'src/deep/er/': '' });
    const resolved = await loadConfig({ cwd: join(dir, 'src/deep/er'), env: {} });
    expect(resolved.file).toBe(join(dir, 'mig.config.json'));
    expect(resolved.values.schema).toBe('found');
  });

  it('stops at the nearest package.json: a parent project’s config is not used', async () => {
    const dir = await tempProject({
      'mig.config.json': '{ "schema": "parent" }',
      'packages/svc/package.json': '{ "name": "svc" }',
      'packages/svc/src/': '',
    });
    const resolved = await loadConfig({ cwd: join(dir, 'packages/svc/src'), env: {} });
    expect(resolved.file).toBeUndefined();
    expect(resolved.values.schema).toBe('public');
  });

  it('stops at a repository root (.git) when there is no package.json', async () => {
    const outside = await tempProject({
      'mig.config.json': '{ "schema": "outside" }',
      'repo/.git/': '',
      'repo/app/': '',
    });
    expect((await loadConfig({ cwd: join(outside, 'repo/app'), env: {} })).file).toBeUndefined();
    const inside = await tempProject(
      { '.git/': '', 'mig.config.json': '{ "schema": "inside" }', 'app/': '' },
      { root: false },
    );
    expect((await loadConfig({ cwd: join(inside, 'app'), env: {} })).values.schema).toBe('inside');
  });

  it('skips a package.json without a "mig" key and empty files, and finds nothing when there is nothing', async () => {
    const dir = await tempProject({ 'mig.config.json': '' });
    const resolved = await loadConfig({ cwd: dir, env: {} });
    expect(resolved.file).toBeUndefined();
    expect(Object.values(resolved.sources).every((source) => source === 'default')).toBe(true);
  });

  it('does not search when searchFile is false', async () => {
    const dir = await tempProject({ 'mig.config.json': '{ "schema": "found" }' });
    expect((await loadConfig({ cwd: dir, env: {}, searchFile: false })).file).toBeUndefined();
  });

  it('resolves a relative migrationsDir against the file’s folder, not cwd', async () => {
    const dir = await tempProject({ 'mig.config.json': '{ "migrationsDir": "db/migrations" }', 'src/': '' });
    const resolved = await loadConfig({ cwd: join(dir, 'src'), env: {} });
    expect(resolved.values.migrationsDir).toBe(join(dir, 'db/migrations'));
    const fromEnv = await loadConfig({ cwd: join(dir, 'src'), env: { MIGRATIONS_DIR: 'm' } });
    expect(fromEnv.values.migrationsDir).toBe(join(dir, 'src/m'));
  });

  it('merges file, env and overrides with their sources', async () => {
    const dir = await tempProject({
      'mig.config.ts': 'export default { lockTimeout: "3s", cacheTtl: "1m", dryRun: true };',
    });
    const resolved = await loadConfig({
      cwd: dir,
      env: { MIGRATION_LOCK_TIMEOUT: '2s', NODE_ENV: 'production' },
      overrides: { dryRun: false },
    });
    expect(resolved.values).toMatchObject({
      lockTimeoutMs: 2_000,
      cacheTtlMs: 60_000,
      dryRun: false,
      autoMigrate: false,
    });
    expect(resolved.sources).toMatchObject({
      lockTimeoutMs: 'env',
      cacheTtlMs: 'file',
      dryRun: 'flag',
      autoMigrate: 'default',
    });
    expect(resolved.nodeEnv).toBe('production');
  });
});

describe('an explicit config file', () => {
  it('is loaded without a search, relative to cwd', async () => {
    const dir = await tempProject({
      'mig.config.json': '{ "schema": "searched" }',
      'config/mig.prod.json': '{ "schema": "explicit" }',
    });
    const resolved = await loadConfig({ cwd: dir, env: {}, configFile: 'config/mig.prod.json' });
    expect(resolved.values.schema).toBe('explicit');
    expect(resolved.file).toBe(join(dir, 'config/mig.prod.json'));
  });

  it('is an error when missing, together with the other problems', async () => {
    const dir = await tempProject({});
    const error = await loadError({ cwd: dir, env: { AUTO_MIGRATE: 'maybe' }, configFile: 'nope.json' });
    expect(error.problems.map((p) => p.key)).toEqual(['configFile', 'AUTO_MIGRATE']);
    expect(error.message).toContain(
      `  configFile (flag): "nope.json" does not exist or is not a file (looked for ${join(dir, 'nope.json')}); pass the path of an existing config file`,
    );
  });

  it('is an error when it is a folder or of an unsupported type', async () => {
    const dir = await tempProject({ 'conf/': '', 'mig.yaml': 'schema: x' });
    expect((await loadError({ cwd: dir, env: {}, configFile: 'conf' })).problems[0]?.message).toMatch(/is not a file/);
    expect((await loadError({ cwd: dir, env: {}, configFile: 'mig.yaml' })).problems[0]?.message).toBe(
      '"mig.yaml" is not a supported config file; use .json, .js, .mjs, .cjs, .ts, .mts, .cts, or a JSON file without extension',
    );
  });

  it('may be empty', async () => {
    const dir = await tempProject({ 'mig.json': '' });
    const resolved = await loadConfig({ cwd: dir, env: {}, configFile: 'mig.json' });
    expect(resolved.file).toBe(join(dir, 'mig.json'));
    expect(resolved.sources.schema).toBe('default');
  });
});

describe('file problems', () => {
  // [file name, content, line, column, message]
  const syntaxErrors: [string, string, number, number, string][] = [
    [
      'mig.config.json',
      '{\n  "lockTimeout": "5s",\n}\n',
      3,
      1,
      'JSON syntax error: trailing comma before "}"; remove it',
    ],
    [
      'mig.config.json',
      '{\n  "lockTimeout": "5s"\n  "dryRun": true\n}',
      3,
      3,
      'JSON syntax error: expected "," or "}" after a property value, found character "\\""',
    ],
    [
      '.migrc',
      "{ 'schema': 'x' }",
      1,
      3,
      'JSON syntax error: expected a double-quoted property name, found character "\'"',
    ],
    ['.migrc.json', '{ "a": tru }', 1, 8, 'JSON syntax error: unexpected character "t" where a value was expected'],
    [
      '.migrc.json',
      '{ "a": 1 } x',
      1,
      12,
      'JSON syntax error: unexpected character "x" after the end of the JSON value',
    ],
    ['.migrc.json', '{ "a": "b', 1, 10, 'JSON syntax error: unterminated string'],
    [
      'package.json',
      '{ "name": "svc", "mig": { } ',
      1,
      29,
      'JSON syntax error: expected "," or "}" after a property value, found end of file',
    ],
    [
      'mig.config.js',
      'module.exports = {\n  lockTimeout: "5s"\n  dryRun: true,\n};\n',
      3,
      3,
      'JavaScript syntax error: Unexpected token, expected ","',
    ],
    [
      'mig.config.mjs',
      'export default {\n  lockTimeout: "5s",,\n};\n',
      2,
      21,
      'JavaScript syntax error: Unexpected token',
    ],
    ['mig.config.cjs', 'module.exports = {\n  schema: "x" +\n};\n', 3, 1, 'JavaScript syntax error: Unexpected token'],
    [
      'mig.config.ts',
      'const x: number = 1;\nexport default {\n  lockTimeout: x\n  dryRun: true,\n};\n',
      4,
      3,
      'TypeScript syntax error: Unexpected token, expected ","',
    ],
    ['mig.config.mts', 'type A = {;\nexport default {};\n', 1, 11, 'TypeScript syntax error'],
  ];

  it.each(syntaxErrors)(
    '%s: a syntax error names the file and line:column (%#)',
    async (name, content, line, column, message) => {
      const dir = await tempProject({ [name]: content });
      const error = await loadError({ cwd: dir, env: {} });
      const file = join(dir, name);
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0]).toMatchObject({ key: `${file}:${line}:${column}`, source: 'file', file });
      expect(error.problems[0]?.message).toContain(message);
      expect(error.message).toContain(`\n  ${file}:${line}:${column}: ${message}`);
    },
  );

  it('points a syntax error in a module the config imports at that module', async () => {
    const dir = await tempProject({
      'mig.config.ts': "import { timeout } from './helper';\nexport default { lockTimeout: timeout };\n",
      'helper.ts': 'export const timeout: string = ;\n',
    });
    const error = await loadError({ cwd: dir, env: {} });
    const helper = join(dir, 'helper.ts');
    expect(error.problems[0]).toMatchObject({ key: `${helper}:1:32`, file: join(dir, 'mig.config.ts') });
    expect(error.message).toContain(
      `\n  ${helper}:1:32 in ${join(dir, 'mig.config.ts')}: TypeScript syntax error: Unexpected token`,
    );
  });

  it('reports a config module that throws, with the error’s first line', async () => {
    const dir = await tempProject({ 'mig.config.mjs': 'throw new TypeError("no config for you\\nsecond line");' });
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.problems[0]).toMatchObject({
      key: join(dir, 'mig.config.mjs'),
      message: 'failed to load: TypeError: no config for you',
    });
  });

  it('reports a config module that imports something missing', async () => {
    const dir = await tempProject({ 'mig.config.ts': 'import x from "./missing-helper";\nexport default x;' });
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.problems[0]?.message).toMatch(/^failed to load: .*Cannot find module '\.\/missing-helper'/);
  });

  it('rejects a default export that is not an object', async () => {
    const dir = await tempProject({ 'mig.config.mjs': 'export default () => ({ schema: "x" });' });
    const error = await loadError({ cwd: dir, env: {} });
    expect(error.problems[0]?.message).toMatch(/^holds a function where an object of settings is expected/);
  });

  it('reports the file’s problems and the environment’s together', async () => {
    const dir = await tempProject({
      'broken/mig.config.json': '{ "schema": }',
      'typo/mig.config.ts': 'export default { lockTimout: "5s", leaseTtl: "2h" };',
    });
    const broken = await loadError({
      cwd: dir,
      env: { MIGRATION_DRY_RUN: 'sure' },
      configFile: 'broken/mig.config.json',
    });
    expect(broken.problems.map((p) => p.source)).toEqual(['file', 'env']);
    const typo = await loadError({
      cwd: join(dir, 'typo'),
      env: { MIGRATION_LOCK_STRATEGY: 'x' },
      overrides: { table: '1' },
    });
    expect(typo.problems.map((p) => `${p.source}:${p.key}`)).toEqual([
      'env:MIGRATION_LOCK_STRATEGY',
      'file:leaseTtl',
      'file:lockTimout',
      'flag:table',
    ]);
    expect(typo.message).toContain(
      `lockTimout in ${join(dir, 'typo/mig.config.ts')}: unknown key; did you mean "lockTimeout"?`,
    );
  });
});
