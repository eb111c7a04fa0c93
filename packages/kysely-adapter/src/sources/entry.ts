import { type Migration, MigrationSourceError } from '@mig/core';
import { computeChecksum, type MigrationModule } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import type { SqlSplitter } from '../sql/statement.js';
import { once, sqlModule } from './modules.js';
import { parseDbmate, parseGoose } from './sql-dialects.js';
import { type ParsedSqlMigration, parseSqlMigration, withOwnTransaction } from './sql-file.js';

// One migration built from its content, the same way whether that content was just read from a folder or
// carried in a bundle: so the checksum, the transaction mode and the directives cannot differ between them.

/** A SQL migration's content: the file's text (and a separate down file's), exactly as written. */
export interface SqlContent {
  readonly name: string;
  /** The up file's text: everything its checksum is computed from, with `down`. */
  readonly sql: string;
  /** A separate down file's text (golang-migrate, Flyway, diesel). */
  readonly down?: string | undefined;
  /** How the file marks its parts, when not mig's own way. */
  readonly dialect?: 'goose' | 'dbmate' | undefined;
}

/** The checksum of a SQL migration: its file, and a separate down file as part of its content. */
export function sqlChecksum(content: SqlContent): string {
  return computeChecksum(content.down === undefined ? content.sql : `${content.sql}\n-- mig:down\n${content.down}`);
}

/** A SQL migration; its directives are read now, so a problem is reported when the source loads. */
export function sqlMigration(content: SqlContent, origin: string, split: SqlSplitter): Migration<MigrationDb> {
  const parsed = parseContent(content, origin);
  return {
    name: content.name,
    checksum: sqlChecksum(content),
    origin,
    sql: parsed.up.trim(),
    transaction: parsed.own ? 'own' : undefined,
    load: once(async () => sqlModule(content.name, origin, parsed, split)),
  };
}

/** A code migration, its checksum computed from the module file's text. */
export function codeMigration(
  name: string,
  origin: string,
  checksum: string,
  load: () => Promise<MigrationModule<MigrationDb>>,
): Migration<MigrationDb> {
  return { name, checksum, origin, load: once(load) };
}

function parseContent(content: SqlContent, origin: string): ParsedSqlMigration {
  if (content.dialect === 'goose' || content.dialect === 'dbmate') {
    const parsed = content.dialect === 'goose' ? parseGoose(content.sql) : parseDbmate(content.sql);
    if (parsed.problem !== undefined) {
      throw new MigrationSourceError(`${origin} ${parsed.problem}.`, { context: { file: origin } });
    }
    return withOwnTransaction(parsed);
  }
  const parsed = parseSqlMigration(content.sql);
  return content.down === undefined ? parsed : { ...parsed, down: content.down };
}
