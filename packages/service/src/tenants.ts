import type { MigStatusCache } from '@mig/cache';
import type { ResolvedConfig } from '@mig/config';
import {
  createDatabaseService,
  createLimiter,
  type DatabaseServiceOptions,
  type Limiter,
  type Logger,
  MigError,
  MigErrorCode,
  type MigrationSource,
  type MigrationStatus,
  type Migrator,
  type ServiceState,
  TenantServices,
} from '@mig/core';
import type { MigrationDb, OpenedDatabase } from '@mig/kysely-adapter';
import type { Kysely } from 'kysely';
import type { LintAction } from './lint-guard.js';
import { migrationOn } from './open-migration.js';
import { type TenantLayout, type TenantPlace, tenantLayout } from './tenant-layout.js';

/** A schema (a database on MySQL) per tenant: see `CreateDatabaseOptions.tenants`. */
export interface TenantOptions {
  /**
   * The name of a tenant's schema (its database on MySQL) from the tenant id of a request, e.g.
   * `(id) => \`tenant_${id}\``. Default: the id itself. The name is checked (letters, digits, underscores and
   * hyphens, starting with a letter or underscore, at most 63 bytes) and always quoted in SQL.
   */
  readonly schema?: ((tenant: string) => string) | undefined;
  /** Create a tenant's missing schema on its first request. Default: `createTenantSchemas` of the configuration (true). */
  readonly createSchemas?: boolean | undefined;
  /** Tenants migrating at once in this process. Default: `tenantConcurrency` of the configuration (4). */
  readonly concurrency?: number | undefined;
}

/** The tenants a service has seen, without I/O: counts by phase, and the failing ones named. */
export interface TenantsReport {
  readonly known: number;
  readonly ready: number;
  readonly initializing: number;
  /** Failed or degraded, by tenant id (at most 100 named). */
  readonly failing: readonly string[];
  readonly failingCount: number;
}

/** What every tenant's service shares: the pool, the migrations, the cache, the policies and the edges. */
export interface TenantBase<DB> {
  readonly config: ResolvedConfig;
  readonly opened: OpenedDatabase<DB>;
  readonly source: MigrationSource<MigrationDb>;
  /** The database URL (a tenant's own database, where the engine keeps one per tenant, is found from it). */
  readonly url: string;
  readonly cache: MigStatusCache<MigrationStatus>;
  readonly logger: Logger;
  readonly where: string;
  /** The shared pool's size. */
  readonly maxConnections: number;
  /** The service options every tenant has alike (policies, stops, telemetry). */
  readonly common: Omit<DatabaseServiceOptions<Kysely<DB>>, 'connect' | 'migrator'>;
  /** The production guard for each tenant's migrations, as for the configured database's. */
  readonly lint?: LintAction | undefined;
}

/**
 * Each tenant's database service on the shared pool: its store in its own schema (its migrations run there),
 * its own lock key and cache entry, and a Kysely instance scoped to its schema (`withSchema`). At most
 * `concurrency` tenants migrate at once; the others wait their turn.
 */
export function createTenantServices<DB>(base: TenantBase<DB>, options: TenantOptions): TenantServices<Kysely<DB>> {
  const { values } = base.config;
  // A migrating tenant may hold two of the pool's connections (its lock session and its migration's), and
  // the others' status reads need one: never more at once than the pool can carry.
  const poolBound = Math.max(1, Math.floor((base.maxConnections - 1) / 2));
  const limiter = createLimiter(Math.min(options.concurrency ?? values.tenantConcurrency, poolBound));
  const createSchemas = options.createSchemas ?? values.createTenantSchemas;
  // Read once, on the first tenant's request: an engine that keeps no tenants says so then.
  let layout: TenantLayout | undefined;
  const source = sharedSource(base.source);
  return new TenantServices<Kysely<DB>>({
    namespaceOf: options.schema,
    create(tenant, name) {
      const logger = tenantLogger(base.logger, tenant);
      let opened: TenantPlace | undefined;
      return createDatabaseService<Kysely<DB>>({
        ...base.common,
        tenant,
        target: `${base.where}, ${tenant}`,
        logger,
        connect: async () => {
          layout ??= tenantLayout(base.url, { db: base.opened.db as MigrationDb, target: base.opened.target });
          if (!(await layout.exists(name))) {
            if (!createSchemas) throw missing(tenant, name, layout.kind);
            await layout.create(name);
          }
          opened ??= await layout.open(name);
          return opened.db as Kysely<DB>;
        },
        disconnect: async () => {
          await opened?.close();
        },
        migrator: () => {
          if (opened === undefined) throw new Error(`tenant ${tenant} is not open`);
          const { migrator } = migrationOn(
            base.config,
            opened.opened,
            source,
            { ...base.common, logger, lint: base.lint },
            opened.place,
          );
          return limited(migrator, limiter);
        },
      });
    },
  });
}

/** Counts and names, from each known tenant's state. */
export function reportTenants(states: Record<string, ServiceState>): TenantsReport {
  let ready = 0;
  let initializing = 0;
  const failing: string[] = [];
  let failingCount = 0;
  for (const [tenant, state] of Object.entries(states)) {
    if (state.phase === 'ready') ready += 1;
    else if (state.phase === 'initializing' || state.phase === 'idle') initializing += 1;
    else if (state.phase === 'failed' || state.phase === 'degraded') {
      failingCount += 1;
      if (failing.length < 100) failing.push(tenant);
    }
  }
  return { known: Object.keys(states).length, ready, initializing, failing, failingCount };
}

function missing(tenant: string, name: string, kind: string): MigError {
  return new MigError(
    MigErrorCode.InvalidConfig,
    `Tenant "${tenant}" has no ${kind} "${name}", and createTenantSchemas is off: create the ${kind}, or set ` +
      'createTenantSchemas to true.',
    { context: { tenant, name, option: 'createTenantSchemas' } },
  );
}

/** The migrations read once for every tenant (a failed read is tried again). */
function sharedSource(source: MigrationSource<MigrationDb>): MigrationSource<MigrationDb> {
  let loading: ReturnType<MigrationSource<MigrationDb>['load']> | undefined;
  return {
    description: source.description,
    load() {
      if (loading === undefined) {
        const attempt = source.load();
        attempt.catch(() => {
          if (loading === attempt) loading = undefined;
        });
        loading = attempt;
      }
      return loading;
    },
  };
}

/** The migrator, with its runs taking a turn of the limiter: a bounded number of tenants migrate at once. */
function limited<Db>(migrator: Migrator<Db>, limiter: Limiter): Migrator<Db> {
  return new Proxy(migrator, {
    get(target, property) {
      if (property === 'up')
        return (options?: Parameters<Migrator<Db>['up']>[0]) => limiter.run(() => target.up(options));
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** Every line about a tenant carries its id. */
function tenantLogger(logger: Logger, tenant: string): Logger {
  return {
    debug: (fields, message) => logger.debug({ ...fields, tenant }, message),
    info: (fields, message) => logger.info({ ...fields, tenant }, message),
    warn: (fields, message) => logger.warn({ ...fields, tenant }, message),
    error: (fields, message) => logger.error({ ...fields, tenant }, message),
  };
}
