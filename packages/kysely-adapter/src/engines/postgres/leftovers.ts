import type { Migration } from '@mig/core';
import type { Leftover } from '@mig/core/adapter';
import { sql } from 'kysely';
import type { MigrationDb } from '../../db.js';

// What a failed or killed `CREATE INDEX CONCURRENTLY` leaves behind: an INVALID index, which blocks the same
// migration's next run ("relation already exists"). mig attributes such an index to a migration only when the
// migration's own SQL creates an index of that very name concurrently, the migration is not recorded, and
// PostgreSQL marks the index invalid. Nothing else is ever dropped: not a valid index, not an index of another
// name, not one a migration without SQL text (a .ts/.js file) creates.

/** `CREATE [UNIQUE] INDEX CONCURRENTLY [IF NOT EXISTS] name` (name possibly quoted or schema-qualified). */
const CREATE_INDEX_CONCURRENTLY =
  /\bcreate\s+(?:unique\s+)?index\s+concurrently\s+(?:if\s+not\s+exists\s+)?((?:"(?:[^"]|"")+"|[a-z_][\w$]*)(?:\s*\.\s*(?:"(?:[^"]|"")+"|[a-z_][\w$]*))?)/gi;

/** The index names a migration's SQL creates concurrently, as SQL identifiers (`"My Idx"`, `app.idx`). */
export function concurrentIndexNames(text: string | undefined): string[] {
  if (!text) return [];
  const code = text.replace(/--[^\n]*/g, ' ').replace(/\/\*[\s\S]*?\*\//g, ' ');
  return [...code.matchAll(CREATE_INDEX_CONCURRENTLY)].map((m) => (m[1] as string).replace(/\s*\.\s*/, '.'));
}

/**
 * The invalid indexes these migrations' SQL creates concurrently, in one query (none when no migration
 * creates an index concurrently). Names resolve as the migration's own statement would (search_path).
 */
export async function invalidIndexesOf(
  db: MigrationDb,
  migrations: readonly Pick<Migration, 'name' | 'sql'>[],
): Promise<Leftover[]> {
  const wanted = migrations.flatMap((m) => concurrentIndexNames(m.sql).map((index) => ({ migration: m.name, index })));
  if (wanted.length === 0) return [];
  const { rows } = await sql<{ wanted: string; schema: string; name: string }>`
    select w.name as wanted, n.nspname as schema, c.relname as name
    from unnest(${wanted.map((w) => w.index)}::text[]) as w(name)
    join pg_catalog.pg_class c on c.oid = to_regclass(w.name)
    join pg_catalog.pg_index i on i.indexrelid = c.oid
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace
    where not i.indisvalid`.execute(db);
  return rows.flatMap((row) => {
    const owner = wanted.find((w) => w.index === row.wanted);
    if (!owner) return [];
    const qualified = `${quoteIdent(row.schema)}.${quoteIdent(row.name)}`;
    return [
      {
        migration: owner.migration,
        kind: 'invalid index',
        object: `${row.schema}.${row.name}`,
        remove: `drop index concurrently if exists ${qualified}`,
        removedOnRerun: true,
      },
    ];
  });
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
