import { createStatusCache, type MigStatusCache } from '@mig/cache';
import {
  createDatabaseService,
  createMigrator,
  type DatabaseService,
  type DatabaseServiceOptions,
  type MigrationStatus,
} from '@mig/core';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { createTestPGlite } from '../../../../test/support/pglite.js';
import { countQueries, type TestDatabase } from '../../../../test/support/postgres.js';
import { createFolderSource, createKyselyAdapter, describeConnection } from '../../src/index.js';

export interface ServiceHarness {
  readonly service: DatabaseService<Kysely<any>>;
  readonly cache: MigStatusCache<MigrationStatus>;
  readonly db: Kysely<any>;
  /** Statements sent to the database since the last reset. */
  queries(): number;
  queryTexts(): readonly string[];
  resetQueries(): void;
  close(): Promise<void>;
}

type Overrides = Partial<Omit<DatabaseServiceOptions<Kysely<any>>, 'connect' | 'migrator' | 'cache'>> & {
  readonly lockTimeoutMs?: number;
  /** The status cache; `null` for none (the service then trusts a status for `statusTtlMs`). */
  readonly cache?: MigStatusCache<MigrationStatus> | null;
};

function compose(db: Kysely<any>, dir: string, target: ReturnType<typeof describeConnection>, overrides: Overrides) {
  const adapter = createKyselyAdapter({ db, target });
  const { cache: given, ...rest } = overrides;
  const cache = given === undefined ? createStatusCache<MigrationStatus>({ ttlMs: 60_000 }) : given;
  const service = createDatabaseService<Kysely<any>>({
    connect: async () => {
      await sql`select 1`.execute(db);
      return db;
    },
    disconnect: (conn) => conn.destroy(),
    migrator: () =>
      createMigrator({ source: createFolderSource(dir), store: adapter.store, lock: adapter.createLock() }),
    cache: cache ?? undefined,
    target: `${target.system} ${target.server}/${target.namespace}`,
    ...rest,
  });
  return { service, cache: cache ?? createStatusCache<MigrationStatus>() };
}

/** A service on a pg pool whose statements are counted. */
export function postgresService(database: TestDatabase, dir: string, overrides: Overrides = {}): ServiceHarness {
  const pool = database.pool(5);
  const counter = countQueries(pool);
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const { service, cache } = compose(db, dir, describeConnection(database.url), overrides);
  return {
    service,
    cache,
    db,
    queries: () => counter.count,
    queryTexts: () => counter.texts,
    resetQueries: () => counter.reset(),
    close: () => service.close(),
  };
}

/** A service on PGlite whose statements are counted. */
export async function pgliteService(dir: string, overrides: Overrides = {}): Promise<ServiceHarness> {
  const handle = await createTestPGlite();
  const texts: string[] = [];
  for (const method of ['query', 'exec'] as const) {
    const original = handle.pglite[method].bind(handle.pglite) as (...args: unknown[]) => Promise<unknown>;
    (handle.pglite as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      texts.push(String(args[0]));
      return original(...args);
    };
  }
  const { service, cache } = compose(
    handle.db,
    dir,
    { system: 'postgresql', namespace: 'pglite', server: 'embedded' },
    overrides,
  );
  return {
    service,
    cache,
    db: handle.db,
    queries: () => texts.length,
    queryTexts: () => texts,
    resetQueries: () => {
      texts.length = 0;
    },
    close: async () => {
      await service.close();
      await handle.close();
    },
  };
}
