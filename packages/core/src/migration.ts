import { createHash } from 'node:crypto';
import { MigrationSourceError } from './errors.js';

/** What a migration does when it runs: loaded lazily, so a status check never imports migration code. */
export interface MigrationModule<Db = unknown> {
  /** False runs `up`/`down` outside a transaction (e.g. `CREATE INDEX CONCURRENTLY`); recorded after success. */
  readonly transactional: boolean;
  // Method syntax on purpose: a Migrator<Kysely<any>> must be usable where a Migrator<unknown> is expected.
  up(db: Db): Promise<void>;
  down?(db: Db): Promise<void>;
  /**
   * A SQL migration's text (up, and down when it has one): a store may send it in one round trip together
   * with its own statements, instead of calling `up`/`down`. Absent for migrations written as code.
   */
  readonly sql?: { readonly up: string; readonly down?: string | undefined } | undefined;
  /**
   * Longest run of each statement of this migration, ms (PostgreSQL's statement_timeout), from a SQL file's
   * `-- mig:statement-timeout 5min` line; it overrides the store's own setting.
   */
  readonly statementTimeoutMs?: number | undefined;
}

/**
 * One migration as mig sees it. `name` orders migrations (plain string order) and identifies them in the
 * store; `checksum` is a digest of the migration's content, so a change after it was applied is detected.
 */
export interface Migration<Db = unknown> {
  readonly name: string;
  /** Lowercase hex SHA-256 of the migration's content (see {@link computeChecksum}). */
  readonly checksum: string;
  /** Where it came from, for messages: a file path, or "inline". */
  readonly origin: string;
  /** The SQL text of a SQL migration (up part), shown by dry runs. */
  readonly sql?: string | undefined;
  /**
   * `'own'`: the file wraps its up part in its own top-level BEGIN … COMMIT, so it runs as written, with no
   * transaction of mig's, and is recorded after its own commit.
   */
  readonly transaction?: 'own' | undefined;
  /** Loads the code. Called before anything is applied, so a broken module fails the whole run up front. */
  load(): Promise<MigrationModule<Db>>;
}

/**
 * Where migrations come from: a folder, a bundled list. Returns them in the order they run, validated: by
 * name, unless the source's layout defines the order itself (a Drizzle journal, Flyway's versions).
 */
export interface MigrationSource<Db = unknown> {
  /** Human-readable description ("folder ./migrations"), used in messages. */
  readonly description: string;
  /**
   * Which layout the source read ("mig", "prisma", "goose", …), known after the first `load()`; shown by
   * `mig status`. Absent for sources with a single layout.
   */
  readonly layout?: string | undefined;
  load(): Promise<readonly Migration<Db>[]>;
}

/**
 * SHA-256 (hex) of a migration's text. Line endings are normalised to `\n` and a leading byte-order mark is
 * dropped, so a checkout on Windows computes the same checksum as one on Linux.
 */
export function computeChecksum(content: string): string {
  const normalized = content.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  return createHash('sha256').update(normalized, 'utf8').digest('hex');
}

/** The head digest of an empty migration history. */
export const EMPTY_DIGEST = '0'.repeat(64);

/** The head of a store with nothing applied (or whose tables do not exist yet). */
export const EMPTY_HEAD: Readonly<{ count: number; digest: string }> = Object.freeze({
  count: 0,
  digest: EMPTY_DIGEST,
});

/**
 * The head digest after applying `name` with `checksum` on top of `previous`. The store keeps the digest of
 * its applied history in one row, so a status check compares one value instead of reading every record.
 */
export function nextDigest(previous: string, name: string, checksum: string): string {
  return createHash('sha256').update(`${previous}\n${name}\n${checksum}`, 'utf8').digest('hex');
}

/** `result[i]` is the head digest after the first `i` migrations; `result[0]` is {@link EMPTY_DIGEST}. */
export function prefixDigests(migrations: readonly Pick<Migration, 'name' | 'checksum'>[]): string[] {
  const digests = [EMPTY_DIGEST];
  let digest = EMPTY_DIGEST;
  for (const m of migrations) {
    digest = nextDigest(digest, m.name, m.checksum);
    digests.push(digest);
  }
  return digests;
}

const CHECKSUM = /^[0-9a-f]{64}$/;

/**
 * Sorts migrations by name (unless `ordered`) and checks the set: non-empty names, valid checksums, no duplicates. Every source
 * passes its result through this, so all sources fail the same way on the same mistakes.
 */
export function validateMigrations<Db>(
  migrations: readonly Migration<Db>[],
  sourceDescription: string,
  options: {
    /** The order is the source's own (a journal, version numbers): keep it instead of sorting by name. */
    readonly ordered?: boolean | undefined;
  } = {},
): readonly Migration<Db>[] {
  const problems: string[] = [];
  const byName = new Map<string, Migration<Db>>();
  for (const m of migrations) {
    if (typeof m.name !== 'string' || m.name.trim() === '') {
      problems.push(`a migration from ${m.origin} has an empty name`);
      continue;
    }
    if (!CHECKSUM.test(m.checksum)) {
      problems.push(`"${m.name}" has an invalid checksum "${String(m.checksum)}" (expected 64 hex digits)`);
    }
    const seen = byName.get(m.name);
    if (seen) {
      problems.push(`"${m.name}" is defined twice: ${seen.origin} and ${m.origin}; keep one`);
    } else {
      byName.set(m.name, m);
    }
  }
  if (problems.length > 0) {
    throw new MigrationSourceError(
      `Invalid migrations in ${sourceDescription}:\n${problems.map((p) => `  - ${p}`).join('\n')}`,
      { context: { source: sourceDescription, problems: problems.length } },
    );
  }
  return options.ordered ? [...migrations] : [...migrations].sort((a, b) => compareNames(a.name, b.name));
}

/**
 * Compares names by their place in `migrations` (the order they run in, which a source may define itself);
 * a name that is not among them falls back to plain name order. For a source sorted by name this is name order.
 */
export function compareInOrder(migrations: readonly Pick<Migration, 'name'>[]): (a: string, b: string) => number {
  const rank = new Map(migrations.map((m, i) => [m.name, i]));
  return (a, b) => {
    const ra = rank.get(a);
    const rb = rank.get(b);
    return ra !== undefined && rb !== undefined ? ra - rb : compareNames(a, b);
  };
}

/** Plain code-unit order, the same in every locale: `001_a` < `002_b` < `010_c`. */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
