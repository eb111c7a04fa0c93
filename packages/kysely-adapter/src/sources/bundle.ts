import { type Migration, type MigrationSource, MigrationSourceError } from '@mig/core';
import { validateMigrations } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { type SqlSplitter, splitStandardSql } from '../sql/statement.js';
import { VERSION } from '../version.js';
import { codeMigration, sqlMigration } from './entry.js';
import { LAYOUT_LABELS, type LayoutName } from './layouts.js';
import { toModule } from './modules.js';

/** What marks a module's default export as a bundle of migrations. */
export const BUNDLE_FORMAT = 'mig-bundle';
/** The newest bundle format this version reads (and `mig bundle` writes). */
export const BUNDLE_FORMAT_VERSION = 1;

/** A SQL migration in a bundle: the file's text as written, from which its checksum is computed. */
export interface BundledSqlMigration {
  readonly name: string;
  /** The file it was read from, relative to the migrations folder (for messages). */
  readonly file: string;
  /** The file's text, as written (directives included). */
  readonly sql: string;
  /** A separate down file's text (golang-migrate, Flyway, diesel). */
  readonly down?: string | undefined;
  /** How the file marks its parts, when not mig's own way: goose's or dbmate's annotations. */
  readonly dialect?: 'goose' | 'dbmate' | undefined;
}

/** A code migration in a bundle: the module, imported statically, and the checksum of its file's text. */
export interface BundledCodeMigration {
  readonly name: string;
  readonly file: string;
  /** SHA-256 of the module file's text, as the folder computes it. */
  readonly checksum: string;
  /** The module: `up(db)`, optionally `down(db)` and `transactional` (named exports or a default object). */
  readonly module: object;
}

export type BundledMigration = BundledSqlMigration | BundledCodeMigration;

/**
 * The default export of the module `mig bundle` writes: every migration of a folder, SQL inlined and code
 * imported statically, in the folder's order, for builds that have no migrations folder at run time.
 */
export interface MigrationBundle {
  readonly format: typeof BUNDLE_FORMAT;
  /** The bundle format's version: a bundle newer than the reader is refused, not misread. */
  readonly version: number;
  /** The mig version that wrote it. */
  readonly mig?: string | undefined;
  /** The folder's layout ("mig", "prisma", "goose", …). */
  readonly layout: LayoutName;
  /** True when the order is the layout's own (a journal, version numbers), not name order. */
  readonly ordered: boolean;
  /** The folder it was written from, relative to the bundle module. */
  readonly from?: string | undefined;
  readonly migrations: readonly BundledMigration[];
}

/** True for a bundle's default export (or a module namespace holding one), without checking its entries. */
export function isMigrationBundle(value: unknown): value is MigrationBundle | { readonly default: MigrationBundle } {
  const candidate = unwrap(value);
  return (
    candidate !== null && typeof candidate === 'object' && (candidate as { format?: unknown }).format === BUNDLE_FORMAT
  );
}

export interface BundleSourceOptions {
  /** How SQL is split into statements: the engine's splitter (`adapter.splitter`). Default: standard SQL. */
  readonly splitter?: SqlSplitter | undefined;
  /** For messages. Default: "migrations bundle (from <folder>)". */
  readonly description?: string | undefined;
}

/** A bundle source, which also says which layout the bundled folder was in (after its first `load()`). */
export interface BundleSource extends MigrationSource<MigrationDb> {
  readonly layout: LayoutName | undefined;
}

/**
 * Migrations from a bundle written by `mig bundle`: the same names, order, checksums and per-migration
 * settings as the folder it was written from, so a database migrated from one shows no drift from the other.
 * The bundle is checked at the first `load()`: something else, or a bundle written by a newer mig, is an
 * error that says what to do.
 *
 * @example
 * import bundle from './migrations.bundle.js';
 * const source = createBundleSource(bundle);
 */
export function createBundleSource(
  bundle: MigrationBundle | { readonly default: MigrationBundle },
  options: BundleSourceOptions = {},
): BundleSource {
  const value = unwrap(bundle) as Partial<MigrationBundle> | null;
  const from = typeof value?.from === 'string' ? ` (from ${value.from})` : '';
  const description = options.description ?? `migrations bundle${from}`;
  const split = options.splitter ?? splitStandardSql;
  let layout: LayoutName | undefined;
  return {
    description,
    get layout() {
      return layout;
    },
    async load() {
      checkBundle(value, description);
      const migrations = value.migrations.map((entry, index) => bundledMigration(entry, index, description, split));
      layout = value.layout;
      return validateMigrations(migrations, description, { ordered: value.ordered });
    },
  };
}

function unwrap(value: unknown): unknown {
  // `import * as bundle from './migrations.bundle.js'` passes the namespace: its default is the bundle.
  if (value !== null && typeof value === 'object' && !('format' in value) && 'default' in value) {
    return (value as { default: unknown }).default;
  }
  return value;
}

const RERUN = 'Write it again with `mig bundle --out FILE`.';

function checkBundle(value: unknown, description: string): asserts value is MigrationBundle {
  if (value === null || typeof value !== 'object' || (value as { format?: unknown }).format !== BUNDLE_FORMAT) {
    const got =
      value === null || typeof value !== 'object'
        ? `got ${value === null ? 'null' : typeof value}`
        : `got an object with ${Object.keys(value).slice(0, 5).join(', ') || 'no keys'}`;
    throw new MigrationSourceError(
      `The migrations given are not a bundle written by \`mig bundle\` (${got}). Pass the default export of the ` +
        'module `mig bundle --out FILE` wrote, or a migration source (createFolderSource, createListSource).',
      { context: { source: description, reason: 'not-a-bundle' } },
    );
  }
  const { version, mig } = value as { version?: unknown; mig?: unknown };
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new MigrationSourceError(`The ${description} has no valid format version (${String(version)}). ${RERUN}`, {
      context: { source: description, reason: 'bad-bundle' },
    });
  }
  if (version > BUNDLE_FORMAT_VERSION) {
    throw new MigrationSourceError(
      `The ${description} was written by a newer mig (${typeof mig === 'string' ? mig : 'unknown version'}, bundle ` +
        `format ${version}); this one (${VERSION}) reads format ${BUNDLE_FORMAT_VERSION} and older. Install the mig ` +
        'version that wrote it, or write the bundle again with the `mig bundle` installed here.',
      { context: { source: description, reason: 'newer-bundle', format: version } },
    );
  }
  const { migrations, layout } = value as { migrations?: unknown; layout?: unknown };
  if (!Array.isArray(migrations) || typeof layout !== 'string' || !(layout in LAYOUT_LABELS)) {
    throw new MigrationSourceError(
      `The ${description} is damaged: it has no list of migrations or no known layout. ${RERUN}`,
      { context: { source: description, reason: 'bad-bundle' } },
    );
  }
}

function bundledMigration(
  entry: BundledMigration,
  index: number,
  description: string,
  split: SqlSplitter,
): Migration<MigrationDb> {
  const e = (entry ?? {}) as Partial<BundledSqlMigration & BundledCodeMigration>;
  if (typeof e.name !== 'string' || typeof e.file !== 'string') {
    throw new MigrationSourceError(`Entry ${index} of the ${description} has no name or file. ${RERUN}`, {
      context: { source: description, reason: 'bad-bundle' },
    });
  }
  const origin = `${e.file} (${description})`;
  const name = e.name;
  if (typeof e.sql === 'string' && (e.down === undefined || typeof e.down === 'string')) {
    return sqlMigration({ name, sql: e.sql, down: e.down, dialect: e.dialect }, origin, split);
  }
  const code = e.module;
  if (typeof e.checksum === 'string' && code !== null && typeof code === 'object') {
    return codeMigration(name, origin, e.checksum, async () => toModule(name, origin, code as Record<string, unknown>));
  }
  throw new MigrationSourceError(
    `Migration "${e.name}" of the ${description} has neither SQL text nor a module with a checksum. ${RERUN}`,
    { context: { source: description, migration: e.name, reason: 'bad-bundle' } },
  );
}
