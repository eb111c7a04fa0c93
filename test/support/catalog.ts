import type pg from 'pg';

/**
 * Everything a migration could change in a database's catalog, as comparable text: relations (tables,
 * indexes, sequences, views) with their kind, every column with its type and nullability, every index
 * definition, and the schemas. Row data of mig's own tables is included when they exist.
 */
export async function catalogSnapshot(query: (text: string) => Promise<pg.QueryResult>): Promise<string> {
  const parts: string[] = [];
  const add = async (label: string, text: string) => {
    const { rows } = await query(text);
    parts.push(`# ${label}`, ...rows.map((r) => JSON.stringify(r)));
  };
  const userSchemas = `n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast') and n.nspname not like 'pg_temp%' and n.nspname not like 'pg_toast_temp%'`;
  await add('schemas', `select nspname from pg_namespace n where ${userSchemas} order by 1`);
  await add(
    'relations',
    `select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where ${userSchemas} order by 1, 2`,
  );
  await add(
    'columns',
    `select n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull, a.attnum
     from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
     where ${userSchemas} and a.attnum > 0 and not a.attisdropped order by 1, 2, a.attnum`,
  );
  await add(
    'indexes',
    `select schemaname, tablename, indexname, indexdef from pg_indexes
     where schemaname not in ('pg_catalog', 'information_schema') order by 1, 2, 3`,
  );
  const { rows } = await query(`select to_regclass('public.mig_migrations')::text as t`);
  if (rows[0]?.t) {
    await add('records', 'select name, checksum, digest from public.mig_migrations order by id');
    await add('head', 'select applied_count, digest, updated_at from public.mig_migrations_head');
    await add('locks', 'select key, owner, token, expires_at from public.mig_migrations_lock order by key');
  }
  return parts.join('\n');
}
