import type { Dirent } from 'node:fs';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { MigrationSourceError } from '@mig/core';
import { hasDbmateMarkers, hasGooseMarkers } from './sql-dialects.js';

// Which layout a migrations folder is written in (mig's flat files, Prisma's folders, a Drizzle journal,
// golang-migrate's pairs, goose's and dbmate's annotated files, Flyway's versions), and the migrations it
// holds, in the order its tool runs them. Only names and paths here; the folder source reads the files.

/** File extensions a mig migrations folder may hold. `.d.ts` files and dotfiles are ignored. */
export const MIGRATION_EXTENSIONS = ['.sql', '.ts', '.js', '.mjs', '.cjs', '.cts'] as const;

export type LayoutName =
  | 'mig'
  | 'prisma'
  | 'drizzle'
  | 'drizzle-folders'
  | 'golang-migrate'
  | 'diesel'
  | 'goose'
  | 'dbmate'
  | 'flyway';

/** How a layout's SQL file marks its parts. */
export type SqlDialect = 'mig' | 'goose' | 'dbmate';

export interface LayoutEntry {
  /** The migration's name: what mig records, and what the tool's own history calls it. */
  readonly name: string;
  /** The file to run (up). */
  readonly path: string;
  /** A separate file that reverts it (golang-migrate's `.down.sql`, Flyway's `U` file, diesel's `down.sql`). */
  readonly downPath?: string | undefined;
  readonly dialect: SqlDialect;
  /** The tool's version of the migration, where its history records versions (goose, dbmate, Flyway, …). */
  readonly version?: string | undefined;
}

export interface LayoutReading {
  readonly layout: LayoutName;
  /** For messages: "Prisma (<timestamp>_<name>/migration.sql)". */
  readonly label: string;
  readonly entries: readonly LayoutEntry[];
  /** True when the order of `entries` is the tool's own (a journal, version numbers), not name order. */
  readonly ordered: boolean;
  /** Every file the layout cannot run, each a sentence; the source reports them all at once. */
  readonly problems: readonly string[];
  /** Files the layout's tool does not run either (not listed in a journal): reported, not run. */
  readonly notices: readonly string[];
}

export const LAYOUT_LABELS: Readonly<Record<LayoutName, string>> = {
  mig: "mig's flat layout (NAME.sql, NAME.ts)",
  prisma: 'Prisma (<timestamp>_<name>/migration.sql)',
  drizzle: 'Drizzle (NNNN_name.sql listed in meta/_journal.json)',
  'drizzle-folders': 'drizzle-kit 1.0 (<timestamp>_<name>/migration.sql with snapshot.json)',
  'golang-migrate': 'golang-migrate (N_name.up.sql and N_name.down.sql)',
  diesel: 'diesel (<version>_<name>/up.sql and down.sql)',
  goose: 'goose (-- +goose Up / -- +goose Down)',
  dbmate: 'dbmate (-- migrate:up / -- migrate:down)',
  flyway: 'Flyway (V<version>__<description>.sql, U<version>__<description>.sql)',
};

const PAIR = /^(\d+)_(.+)\.(up|down)\.sql$/;
const FLYWAY = /^([VUR])([0-9][0-9._]*)?__(.+)\.sql$/;
const VERSION_PREFIX = /^(\d+)[_-]?/;
const CODE = ['.ts', '.js', '.mjs', '.cjs', '.cts', '.mts', '.go', '.java', '.kt', '.rs', '.py'];

function isMigFile(file: string): boolean {
  if (file.startsWith('.') || file.endsWith('.d.ts')) return false;
  return (MIGRATION_EXTENSIONS as readonly string[]).includes(extname(file));
}

function stem(file: string): string {
  return file.slice(0, file.length - extname(file).length);
}

/** Numeric order of version strings ("1.9.4" before "1.10.0", "2" before "10"); parts split on dots and underscores. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[._]/);
  const pb = b.split(/[._]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = BigInt(pa[i] || '0');
    const y = BigInt(pb[i] || '0');
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** Reads the layout of `folder` from its listing; `text` reads (and caches) a file's text. */
export function readLayout(folder: string, listing: readonly Dirent[], text: (path: string) => string): LayoutReading {
  // A folder named like a migration file is taken as one, to be reported as unreadable by name.
  const isDir = (d: Dirent) => d.isDirectory() && !isMigFile(d.name);
  const dirs = listing.filter((d) => isDir(d) && !d.name.startsWith('.') && d.name !== 'meta');
  const files = listing.filter((d) => !isDir(d)).map((d) => d.name);
  const readings: LayoutReading[] = [];

  const withMigrationSql = dirs.filter((d) => existsSync(join(folder, d.name, 'migration.sql')));
  const withUpSql = dirs.filter((d) => existsSync(join(folder, d.name, 'up.sql')));
  if (withMigrationSql.length > 0) readings.push(migrationFolders(folder, dirs, files));
  if (withUpSql.length > 0) readings.push(dieselFolders(folder, dirs));
  if (existsSync(join(folder, 'meta', '_journal.json'))) readings.push(drizzleJournal(folder, files));
  if (files.some((f) => PAIR.test(f))) readings.push(pairs(folder, files));
  if (files.some((f) => FLYWAY.test(f) && !f.startsWith('R'))) readings.push(flyway(folder, files));
  const sql = files.filter((f) => extname(f) === '.sql' && !f.startsWith('.'));
  const goose = sql.filter((f) => hasGooseMarkers(text(join(folder, f))));
  const dbmate = sql.filter((f) => hasDbmateMarkers(text(join(folder, f))));
  if (goose.length > 0) readings.push(annotated(folder, files, 'goose'));
  if (dbmate.length > 0) readings.push(annotated(folder, files, 'dbmate'));

  if (readings.length > 1) {
    const [first, second] = readings as [LayoutReading, LayoutReading];
    throw new MigrationSourceError(
      `The migrations folder ${folder} reads two ways: as ${first.label}, with ${first.entries.length} migration(s) ` +
        `(e.g. ${first.entries[0]?.name ?? 'none'}), and as ${second.label}, with ${second.entries.length} ` +
        `(e.g. ${second.entries[0]?.name ?? 'none'}). Keep one tool's migrations in this folder, or point mig at the ` +
        'folder that holds the ones to run.',
      { context: { folder, reason: 'ambiguous-layout', layouts: readings.map((r) => r.layout).join(', ') } },
    );
  }
  return readings[0] ?? flat(folder, files);
}

function flat(folder: string, files: readonly string[]): LayoutReading {
  const entries = files
    .filter(isMigFile)
    .sort()
    .map((file) => ({ name: stem(file), path: join(folder, file), dialect: 'mig' as const }));
  return reading('mig', entries, false, []);
}

function reading(
  layout: LayoutName,
  entries: readonly LayoutEntry[],
  ordered: boolean,
  problems: readonly string[],
  notices: readonly string[] = [],
): LayoutReading {
  return { layout, label: LAYOUT_LABELS[layout], entries, ordered, problems, notices };
}

/** Flat files beside a folder layout are another reading of the same folder. */
function strayFlatFiles(files: readonly string[], label: string): string[] {
  return files
    .filter((f) => isMigFile(f))
    .map((f) => `${f} is a flat migration file beside ${label} folders: move it into a folder of its own, or out`);
}

/** Prisma's and drizzle-kit 1.0's `<timestamp>_<name>/migration.sql`, in name order as both tools run them. */
function migrationFolders(folder: string, dirs: readonly Dirent[], files: readonly string[]): LayoutReading {
  const drizzle = dirs.some((d) => existsSync(join(folder, d.name, 'snapshot.json')));
  const layout: LayoutName = drizzle ? 'drizzle-folders' : 'prisma';
  const tool = drizzle ? 'drizzle-kit' : 'Prisma';
  const entries: LayoutEntry[] = [];
  const problems = strayFlatFiles(files, tool);
  for (const dir of [...dirs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const path = join(folder, dir.name, 'migration.sql');
    const inside = readdirSync(join(folder, dir.name));
    const code = inside.filter((f) => CODE.includes(extname(f)) && !f.endsWith('.d.ts'));
    if (code.length > 0) {
      problems.push(
        `${dir.name}/${code.join(`, ${dir.name}/`)} is a code migration written for ${tool}, which mig cannot run: ` +
          'run it with that tool, or write what it does as SQL in migration.sql',
      );
    }
    if (existsSync(path)) entries.push({ name: dir.name, path, dialect: 'mig' });
    else if (code.length === 0 && inside.length > 0) {
      problems.push(`${dir.name}/ holds no migration.sql (found ${inside.slice(0, 3).join(', ')})`);
    }
  }
  return reading(layout, entries, false, problems);
}

/** diesel: `<version>_<name>/up.sql` and `down.sql`, in name order. */
function dieselFolders(folder: string, dirs: readonly Dirent[]): LayoutReading {
  const entries: LayoutEntry[] = [];
  const problems: string[] = [];
  for (const dir of [...dirs].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const up = join(folder, dir.name, 'up.sql');
    const down = join(folder, dir.name, 'down.sql');
    if (!existsSync(up)) {
      problems.push(`${dir.name}/ holds no up.sql`);
      continue;
    }
    const version = VERSION_PREFIX.exec(dir.name.replace(/-/g, ''))?.[1];
    entries.push({ name: dir.name, path: up, downPath: existsSync(down) ? down : undefined, dialect: 'mig', version });
  }
  return reading('diesel', entries, false, problems);
}

/** A migration named as `mig create` names it: `20260101000000_name.sql` (or a code migration). */
const MIG_OWN_NAME = /^\d{14}_[^/]+$/;

/**
 * drizzle-kit's journal: `meta/_journal.json` lists the migrations to run, in order, by tag (the file's name
 * without .sql). A .sql file the journal does not list is never run by Drizzle, and not by mig, unless it is
 * named as mig names its own (written after a switch to mig).
 */
function drizzleJournal(folder: string, files: readonly string[]): LayoutReading {
  const journalPath = join(folder, 'meta', '_journal.json');
  let tags: string[];
  try {
    const journal = JSON.parse(readFileSync(journalPath, 'utf8')) as { entries?: { tag?: unknown }[] };
    if (!Array.isArray(journal.entries)) throw new Error('it has no "entries" list');
    tags = journal.entries.map((e, i) => {
      if (typeof e?.tag !== 'string' || e.tag === '') throw new Error(`entry ${i} has no "tag"`);
      return e.tag;
    });
  } catch (error) {
    throw new MigrationSourceError(
      `Drizzle's journal ${journalPath} cannot be read: ${(error as Error).message}. Fix it (drizzle-kit writes it), or ` +
        'remove the meta folder to read the folder as plain files.',
      { cause: error, context: { folder, reason: 'bad-journal' } },
    );
  }
  const problems: string[] = [];
  const entries: LayoutEntry[] = [];
  const listed = new Set(tags);
  for (const tag of tags) {
    if (files.includes(`${tag}.sql`)) entries.push({ name: tag, path: join(folder, `${tag}.sql`), dialect: 'mig' });
    else problems.push(`${tag}.sql is listed in meta/_journal.json but is not in the folder: restore it`);
  }
  // A team that switched to mig (`mig adopt --from drizzle`) writes its new migrations in mig's own form
  // (`mig create`: a 14-digit timestamp): those run after the journal's, in name order. Drizzle's own tags
  // (`0007_name`) are never of that form.
  const unlisted = files.filter((f) => isMigFile(f) && !listed.has(stem(f)));
  const migOwn = unlisted.filter((f) => MIG_OWN_NAME.test(f)).sort();
  for (const file of migOwn) entries.push({ name: stem(file), path: join(folder, file), dialect: 'mig' });
  const notices = unlisted
    .filter((f) => extname(f) === '.sql' && !MIG_OWN_NAME.test(f))
    .map((f) => `${f} is not listed in meta/_journal.json, so Drizzle does not run it, and mig does not either`);
  return reading('drizzle', entries, true, problems, notices);
}

/** golang-migrate: `N_name.up.sql` runs, `N_name.down.sql` reverts it; ordered by the number. */
function pairs(folder: string, files: readonly string[]): LayoutReading {
  const ups = new Map<string, { name: string; version: string; up?: string; down?: string }>();
  const problems: string[] = [];
  for (const file of files) {
    const match = PAIR.exec(file);
    if (!match) {
      if (isMigFile(file)) problems.push(`${file} is not named as golang-migrate names a migration (N_name.up.sql)`);
      continue;
    }
    const [, version = '', title = '', direction] = match;
    const name = `${version}_${title}`;
    const pair = ups.get(name) ?? { name, version };
    if (direction === 'up') pair.up = file;
    else pair.down = file;
    ups.set(name, pair);
  }
  const entries: LayoutEntry[] = [];
  const byVersion = new Map<string, string>();
  for (const pair of ups.values()) {
    if (pair.up === undefined) {
      problems.push(
        `${pair.down} has no ${pair.name}.up.sql: a .down.sql never runs forward; add the up file or remove it`,
      );
      continue;
    }
    const clash = byVersion.get(BigInt(pair.version).toString());
    if (clash !== undefined) problems.push(`${pair.up} and ${clash}.up.sql have the same version ${pair.version}`);
    byVersion.set(BigInt(pair.version).toString(), pair.name);
    entries.push({
      name: pair.name,
      path: join(folder, pair.up),
      downPath: pair.down === undefined ? undefined : join(folder, pair.down),
      dialect: 'mig',
      version: BigInt(pair.version).toString(),
    });
  }
  entries.sort((a, b) => compareVersions(a.version ?? '0', b.version ?? '0'));
  return reading('golang-migrate', entries, true, problems);
}

/** goose's and dbmate's files: one file per migration, up and down marked inside, ordered by the version prefix. */
function annotated(folder: string, files: readonly string[], tool: 'goose' | 'dbmate'): LayoutReading {
  const problems: string[] = [];
  const entries: LayoutEntry[] = [];
  for (const file of files) {
    if (file.startsWith('.')) continue;
    const ext = extname(file);
    if (ext !== '.sql') {
      if (CODE.includes(ext) && !file.endsWith('.d.ts')) {
        problems.push(`${file} is a code migration written for ${tool}, which mig cannot run: run it with ${tool}`);
      }
      continue;
    }
    const version = VERSION_PREFIX.exec(file)?.[1];
    if (version === undefined) {
      problems.push(`${file} has no version number at the start of its name, as ${tool} requires`);
      continue;
    }
    entries.push({ name: stem(file), path: join(folder, file), dialect: tool, version: BigInt(version).toString() });
  }
  entries.sort((a, b) => compareVersions(a.version ?? '0', b.version ?? '0'));
  return reading(tool, entries, true, problems);
}

/** Flyway: `V<version>__<desc>.sql` ordered by version, `U<version>__<desc>.sql` reverting the same version. */
function flyway(folder: string, files: readonly string[]): LayoutReading {
  const problems: string[] = [];
  const versions = new Map<string, { v?: string; u?: string; version: string }>();
  for (const file of files) {
    const match = FLYWAY.exec(file);
    if (!match) {
      if (isMigFile(file) || /^[VUR]\d*.*__/.test(file)) {
        problems.push(
          CODE.includes(extname(file))
            ? `${file} is a code migration written for Flyway, which mig cannot run`
            : `${file} is not named as Flyway names a migration (V<version>__<description>.sql)`,
        );
      }
      continue;
    }
    const [, kind, version] = match;
    if (kind === 'R') {
      problems.push(`${file} is a Flyway repeatable migration, which mig does not run: run it with Flyway`);
      continue;
    }
    if (version === undefined) {
      problems.push(`${file} has no version after ${kind}`);
      continue;
    }
    const key = version.replace(/_/g, '.').replace(/(\.0+)+$/, '');
    const slot = versions.get(key) ?? { version: version.replace(/_/g, '.') };
    if ((kind === 'V' ? slot.v : slot.u) !== undefined) {
      problems.push(`${file} and ${kind === 'V' ? slot.v : slot.u} have the same version ${version}`);
    }
    if (kind === 'V') slot.v = file;
    else slot.u = file;
    versions.set(key, slot);
  }
  const entries: LayoutEntry[] = [];
  for (const slot of versions.values()) {
    if (slot.v === undefined) {
      problems.push(`${slot.u} undoes version ${slot.version}, which has no V${slot.version}__….sql file`);
      continue;
    }
    entries.push({
      name: stem(slot.v),
      path: join(folder, slot.v),
      downPath: slot.u === undefined ? undefined : join(folder, slot.u),
      dialect: 'mig',
      version: slot.version,
    });
  }
  entries.sort((a, b) => compareVersions(a.version ?? '0', b.version ?? '0'));
  return reading('flyway', entries, true, problems);
}
