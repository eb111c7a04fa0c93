import { type MigrationDb, openDatabase, tenantDatabases, tenantNamespaces } from '@mig/kysely-adapter';
import type { Kysely } from 'kysely';
import type { OpenedPlace, StorePlace } from './open-migration.js';

/** One tenant, opened: where its store goes, and the Kysely instance the application gets. */
export interface TenantPlace {
  readonly opened: OpenedPlace;
  readonly place: StorePlace;
  // biome-ignore lint/suspicious/noExplicitAny: the application's own database type is applied by the caller.
  readonly db: Kysely<any>;
  close(): Promise<void>;
}

/**
 * How this database keeps tenants: namespaces of the one database (a schema on PostgreSQL, a database on
 * MySQL, all on one pool), or a database of its own per tenant (a SQLite file beside the configured one). The
 * engine says which; nothing here names an engine.
 */
export interface TenantLayout {
  /** What a tenant is here, for messages: "schema", "database", "file". */
  readonly kind: string;
  /** The tenants that exist and whose names match a SQL LIKE pattern, sorted. */
  list(pattern: string): Promise<string[]>;
  exists(name: string): Promise<boolean>;
  /** Creates the tenant's namespace when it is missing (a file is made when it is first opened). */
  create(name: string): Promise<void>;
  open(name: string): Promise<TenantPlace>;
}

export function tenantLayout(url: string, base: OpenedPlace, options: { applicationName?: string } = {}): TenantLayout {
  const databases = tenantDatabases(url);
  if (databases !== undefined) {
    return {
      kind: databases.kind,
      list: (pattern) => databases.list(pattern),
      exists: (name) => databases.exists(name),
      create: async () => {},
      async open(name) {
        const opened = await openDatabase<unknown>(databases.url(name), { applicationName: options.applicationName });
        const db = opened.db as MigrationDb;
        return { opened: { db, target: opened.target }, place: {}, db, close: () => opened.db.destroy() };
      },
    };
  }
  const namespaces = tenantNamespaces(base.db);
  return {
    kind: namespaces.kind,
    list: (pattern) => namespaces.list(base.db, pattern),
    exists: (name) => namespaces.exists(base.db, name),
    async create(name) {
      // Two processes may create it at once: the one that lost finds it there.
      await namespaces.create(base.db, name).catch(async (error: unknown) => {
        if (!(await namespaces.exists(base.db, name))) throw error;
      });
    },
    async open(name) {
      return {
        opened: base,
        place: { schema: name, tenant: true },
        db: base.db.withSchema(name),
        close: async () => {},
      };
    },
  };
}
