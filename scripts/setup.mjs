#!/usr/bin/env node
// Brings a fresh checkout to a working state: checks Node, makes sure pnpm is available, installs the
// workspace. It is the first step of `npm test`, `npm run demo` and `npm run bench`, so each of them works
// on a machine where nothing was installed by hand. Safe to run again: an up-to-date install takes a second.
// With `--tests` it also makes sure of what the tests need beyond npm packages (PgBouncer, for the pooler
// tests): installed from Debian's packages when running as root, else a message naming the command to run.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const pnpmVersion = pkg.packageManager.replace(/^pnpm@/, '');

function fail(message) {
  console.error(`setup: ${message}`);
  process.exit(1);
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  fail(`Node ${process.versions.node} is too old; mig needs Node 20.19 or newer.`);
}

function pnpmOnPath() {
  const r = spawnSync('pnpm', ['--version'], { encoding: 'utf8', shell: false });
  return r.status === 0 ? r.stdout.trim() : null;
}

let pnpm = ['pnpm'];
const found = pnpmOnPath();
if (found?.split('.')[0] !== pnpmVersion.split('.')[0]) {
  console.error(`setup: installing pnpm ${pnpmVersion} (found ${found ?? 'none'})`);
  const r = spawnSync('npm', ['install', '--global', '--silent', `pnpm@${pnpmVersion}`], {
    stdio: 'inherit',
  });
  if (r.status !== 0 || pnpmOnPath() === null) {
    // No permission for a global install: run the pinned pnpm through npx instead.
    pnpm = ['npx', '--yes', `pnpm@${pnpmVersion}`];
  }
}

const env = {
  ...process.env,
  COREPACK_ENABLE_STRICT: '0',
  npm_config_manage_package_manager_versions: 'false',
};
const args = ['install', '--frozen-lockfile', '--prefer-offline', '--reporter=append-only'];
if (!existsSync(join(root, 'pnpm-lock.yaml'))) args.splice(1, 1);
const install = spawnSync(pnpm[0], [...pnpm.slice(1), ...args], { cwd: root, encoding: 'utf8', env });
if (install.status !== 0) {
  process.stderr.write(`${install.stdout ?? ''}${install.stderr ?? ''}`);
  fail(
    `\`${[...pnpm, ...args].join(' ')}\` failed (${install.error?.message ?? `exit ${install.status}`}); see above.`,
  );
}

if (process.argv.includes('--tests')) ensureSystemPackages();

/** The test suites' system dependencies, by binary and Debian package. */
function ensureSystemPackages() {
  const needed = [{ binary: 'pgbouncer', paths: ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'], pkg: 'pgbouncer' }];
  const missing = needed.filter((n) => !n.paths.some((path) => existsSync(path)));
  if (missing.length === 0) return;
  const pkgs = missing.map((m) => m.pkg);
  const command = `apt-get update && apt-get install -y ${pkgs.join(' ')}`;
  if (process.getuid?.() !== 0) {
    fail(`the tests need ${pkgs.join(', ')}, which is not installed. Install it with: sudo sh -c '${command}'`);
  }
  console.error(`setup: installing ${pkgs.join(', ')} for the tests (${command})`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', ...pkgs],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'ignore', 'inherit'], env });
    if (r.status !== 0)
      fail(`\`apt-get ${args.join(' ')}\` failed (${r.error?.message ?? `exit ${r.status}`}); run ${command} by hand.`);
  }
}
