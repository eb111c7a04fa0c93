import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidOptionError, MigrationSourceError } from '@mig/core';
import { describeThrown } from '@mig/core/adapter';
import { sql } from 'kysely';
import { collectNames, type ForeignReader, type HistoryTable, type NamedRow } from './reader.js';

/** The part of drizzle-kit's `meta/_journal.json` that names migrations. */
interface JournalEntry {
  /** The file's name without `.sql`. */
  readonly tag: string;
  /** Milliseconds; Drizzle records it as the row's created_at. */
  readonly when: number;
  /** The SQL file, relative to the folder: `<tag>.sql`, or drizzle-kit 1.0's `<tag>/migration.sql`. */
  readonly file?: string | undefined;
}

interface DrizzleRow {
  readonly id: number;
  readonly hash: string;
  /** bigint: a string from pg. */
  readonly created_at: string | number | bigint | null;
}

/**
 * Drizzle (drizzle-orm's `migrate`, drizzle-kit's journal format): `drizzle.__drizzle_migrations (id serial
 * primary key, hash text not null, created_at bigint)`. A row holds no name: `created_at` is the journal
 * entry's `when` and `hash` the sha256 of its .sql file, so rows are named through `meta/_journal.json`,
 * by `when` first and by hash when no `when` matches (an edited journal). Drizzle itself only compares the
 * journal with the newest created_at: an entry older than that is never run, whether or not it has a row.
 */
export const drizzleReader: ForeignReader = {
  tool: 'drizzle',
  runnable: false,
  defaultTable: '__drizzle_migrations',
  defaultSchema: 'drizzle',
  // Its rows are named through the journal, matched on PostgreSQL so far; elsewhere a baseline records it.
  readableOn: ['postgresql'],
  checkOptions(options) {
    if (typeof options.migrationsDir !== 'string' || options.migrationsDir.trim() === '') {
      throw new InvalidOptionError(
        'migrationsDir',
        "Reading Drizzle's history needs its migrations folder: Drizzle's table records a hash and a time, not a name, " +
          'and mig names them through meta/_journal.json there. Pass migrationsDir (the "out" folder of drizzle.config, e.g. ./drizzle).',
      );
    }
  },
  async read(db, where, options) {
    const folder = resolve(options.migrationsDir ?? '');
    const journal = await readJournalOrFolders(folder);
    const { rows } = await sql<DrizzleRow>`
      select ${sql.id('id')}, ${sql.id('hash')}, ${sql.id('created_at')} from ${where.ref} order by ${sql.id('id')}`.execute(
      db,
    );
    const matcher = new JournalMatcher(folder, journal);
    const named: NamedRow[] = [];
    for (const row of rows) named.push(await matcher.name(row, where));
    return collectNames(named);
  },
};

class JournalMatcher {
  readonly #folder: string;
  readonly #entries: readonly JournalEntry[];
  #hashes: Promise<ReadonlyMap<string, readonly JournalEntry[]>> | undefined;

  constructor(folder: string, entries: readonly JournalEntry[]) {
    this.#folder = folder;
    this.#entries = entries;
  }

  async name(row: DrizzleRow, where: HistoryTable): Promise<NamedRow> {
    const createdAt = row.created_at === null ? null : Number(row.created_at);
    const byWhen = this.#entries.filter((entry) => entry.when === createdAt);
    const description = `row id ${row.id} of ${where.qualified}`;
    if (byWhen.length === 1) return { name: byWhen[0]?.tag ?? null, row: description };
    // No entry with this "when" (the journal was edited), or several (the hash decides between them).
    const byHash = (await this.#byHash()).get(row.hash) ?? [];
    const match = byWhen.length === 0 ? byHash : byWhen.filter((entry) => byHash.includes(entry));
    if (match.length === 1) return { name: match[0]?.tag ?? null, row: description };
    const what = `Row id ${row.id} of ${where.qualified} (created_at ${row.created_at ?? 'null'}, hash ${String(row.hash).slice(0, 12)})`;
    const journal = join(this.#folder, 'meta', '_journal.json');
    const candidates = match.length > 1 ? match : byWhen;
    const why =
      candidates.length > 1
        ? `${what} matches ${candidates.length} entries of ${journal} (${candidates.map((e) => e.tag).join(', ')}) and cannot tell them apart.`
        : `${what} matches no entry of ${journal}, by its "when" or by the hash of its .sql file: its migration was removed from the journal, or the journal or the file was edited.`;
    return { name: null, row: description, why };
  }

  /** Files hashed as Drizzle hashes them (sha256 of the text), read once and only when a row needs it. */
  #byHash(): Promise<ReadonlyMap<string, readonly JournalEntry[]>> {
    this.#hashes ??= (async () => {
      const map = new Map<string, JournalEntry[]>();
      for (const entry of this.#entries) {
        const text = await readFile(join(this.#folder, entry.file ?? `${entry.tag}.sql`), 'utf8').catch(() => null);
        // A file missing from the folder cannot be matched by hash; the folder check reports it.
        if (text === null) continue;
        const hash = createHash('sha256').update(text).digest('hex');
        map.set(hash, [...(map.get(hash) ?? []), entry]);
      }
      return map;
    })();
    return this.#hashes;
  }
}

/**
 * drizzle-kit 1.0 writes no journal: each migration is a `<timestamp>_<name>/migration.sql` folder, and
 * Drizzle records the folder's time (from its name) and the hash of migration.sql. Older drizzle-kit: the journal.
 */
async function readJournalOrFolders(folder: string): Promise<readonly JournalEntry[]> {
  if (existsSync(join(folder, 'meta', '_journal.json'))) return readJournal(folder);
  const folders = (await readdir(folder, { withFileTypes: true }).catch(() => []))
    .filter((d) => d.isDirectory() && existsSync(join(folder, d.name, 'migration.sql')))
    .map((d) => d.name)
    .sort();
  if (folders.length === 0) return readJournal(folder);
  return folders.map((tag) => ({ tag, when: folderMillis(tag), file: join(tag, 'migration.sql') }));
}

/** `20250102030405_name` → the UTC time it names, in milliseconds; NaN when the name starts otherwise. */
function folderMillis(tag: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})/.exec(tag);
  if (!m) return Number.NaN;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

async function readJournal(folder: string): Promise<readonly JournalEntry[]> {
  const path = join(folder, 'meta', '_journal.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new InvalidOptionError(
      'migrationsDir',
      `Cannot read Drizzle's journal ${path} (${describeThrown(error)}). Point migrationsDir at the folder ` +
        'drizzle-kit generates migrations into (the "out" of drizzle.config), the one that holds meta/_journal.json.',
      { cause: error, context: { journal: path } },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalidJournal(path, `it is not JSON (${describeThrown(error)})`, error);
  }
  const entries = (parsed as { entries?: unknown } | null)?.entries;
  if (!Array.isArray(entries)) throw invalidJournal(path, 'it has no "entries" list');
  return entries.map((entry: unknown, index) => {
    const { tag, when } = (entry ?? {}) as { tag?: unknown; when?: unknown };
    if (typeof tag !== 'string' || tag === '' || typeof when !== 'number' || !Number.isFinite(when)) {
      throw invalidJournal(path, `entry ${index} has no string "tag" and numeric "when"`);
    }
    return { tag, when };
  });
}

function invalidJournal(path: string, why: string, cause?: unknown): MigrationSourceError {
  return new MigrationSourceError(
    `Drizzle's journal ${path} cannot be used: ${why}. Restore it from version control (drizzle-kit writes it).`,
    { cause, context: { journal: path } },
  );
}
