import { type Migration, type MigrationSource, MigrationSourceError } from '@mig/core';
import { computeChecksum, validateMigrations } from '@mig/core/adapter';
import type { MigrationDb } from '../db.js';
import { type SqlSplitter, splitStandardSql } from '../sql/statement.js';
import { sqlMigration } from './entry.js';
import { once, toModule } from './modules.js';

/** A migration written in code, for bundled builds that have no migrations folder at run time. */
export type InlineMigration =
  | {
      readonly name: string;
      /** SQL to apply; `-- mig:no-transaction` and `-- mig:down` work as in files. */
      readonly sql: string;
    }
  | {
      readonly name: string;
      readonly up: (db: MigrationDb) => Promise<void>;
      readonly down?: ((db: MigrationDb) => Promise<void>) | undefined;
      readonly transactional?: boolean | undefined;
      /**
       * The content checksum. Default: computed from the functions' source text, which a bundler or
       * minifier may change between builds; pass the checksum (or use `sql`) to keep it stable.
       */
      readonly checksum?: string | undefined;
    };

/**
 * Migrations from an in-code list, for serverless bundles with no folder at run time.
 *
 * @example
 * const source = createListSource([
 *   { name: '001_todos', sql: 'create table todos (id serial primary key, title text not null)' },
 *   { name: '002_done', up: async (db) => { await db.schema.alterTable('todos').addColumn('done', 'boolean').execute(); } },
 * ]);
 */
export function createListSource(
  list: readonly InlineMigration[],
  options: {
    readonly description?: string;
    /** How `sql` entries are split into statements (see `FolderSourceOptions.splitter`). Default: standard SQL. */
    readonly splitter?: SqlSplitter | undefined;
  } = {},
): MigrationSource<MigrationDb> {
  const description = options.description ?? 'in-code migration list';
  const split = options.splitter ?? splitStandardSql;
  return {
    description,
    async load() {
      if (!Array.isArray(list) || list.length === 0) {
        throw new MigrationSourceError(`The ${description} is empty: pass at least one migration.`);
      }
      const migrations = list.map((entry, index): Migration<MigrationDb> => {
        const origin = `${description}[${index}]`;
        if (entry === null || typeof entry !== 'object' || typeof entry.name !== 'string') {
          throw new MigrationSourceError(
            `Entry ${index} of the ${description} has no name; give each migration a name.`,
          );
        }
        if ('sql' in entry) {
          if (typeof entry.sql !== 'string') {
            throw new MigrationSourceError(`Migration "${entry.name}" (${origin}): "sql" must be a string.`);
          }
          return sqlMigration({ name: entry.name, sql: entry.sql }, origin, split);
        }
        const code = entry as Record<string, unknown>;
        const fnText = `${String(code.up)}\n${String(code.down ?? '')}`;
        return {
          name: entry.name,
          checksum: typeof entry.checksum === 'string' ? entry.checksum : computeChecksum(fnText),
          origin,
          load: once(async () => toModule(entry.name, origin, code)),
        };
      });
      return validateMigrations(migrations, description);
    },
  };
}
