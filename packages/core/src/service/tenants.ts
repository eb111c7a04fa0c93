// A database service per tenant: each tenant (a schema, a database or a file) has its own service, with its
// own mig tables, lock key, status cache entry and state; a ready tenant costs one Map lookup and its
// service's fast path. How a tenant's service is built is the edge's (`@mig/service`): this module keeps
// them, names them safely, and bounds how many migrate at once.
import { InvalidOptionError, MigError, MigErrorCode } from '../errors.js';
import type { ServiceState } from './state.js';
import type { DatabaseService, EnsureOptions } from './types.js';

/** PostgreSQL truncates names at 63 bytes (two long tenant names could meet); MySQL stops at 64. */
const MAX_NAME_BYTES = 63;
/** Letters, digits, underscores and hyphens, starting with a letter or underscore: always quoted in SQL. */
const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/**
 * The namespace (schema, database, file name) for a tenant id, checked: 1 to 63 bytes of letters, digits,
 * underscores and hyphens, starting with a letter or underscore, and none of the names the servers keep for
 * themselves. Names that need quoting (`Acme`, `acme-eu`) are kept as they are and always quoted; anything
 * else is refused with an error that names the tenant, the name and what to do.
 *
 * @example
 * tenantNamespace('acme', (id) => `tenant_${id}`); // 'tenant_acme'
 * tenantNamespace('a;b', (id) => id);             // throws InvalidOptionError
 */
export function tenantNamespace(tenant: string, nameOf: (tenant: string) => string = (t) => t): string {
  if (typeof tenant !== 'string' || tenant === '') {
    throw new InvalidOptionError('tenant', 'No tenant given: pass ensureInitialized({ tenant: "…" }) a tenant id.', {
      context: { reason: 'no-tenant' },
    });
  }
  const name = nameOf(tenant);
  const problem = namespaceProblem(name);
  if (problem !== undefined) {
    throw new InvalidOptionError(
      'tenant',
      `Tenant ${JSON.stringify(tenant)} maps to the name ${JSON.stringify(name)}, which ${problem}. Use letters, ` +
        'digits, underscores and hyphens, starting with a letter or underscore, at most 63 bytes (map ids to names ' +
        'with the tenants `schema` function).',
      { context: { tenant, name, reason: 'bad-tenant-name' } },
    );
  }
  return name;
}

/** What is wrong with a tenant's namespace name, or undefined when it is fine. */
export function namespaceProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return 'is empty';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes`;
  if (!NAME.test(name)) return 'holds characters a tenant name may not';
  const lower = name.toLowerCase();
  if (lower.startsWith('pg_') || lower === 'information_schema' || lower === 'mysql' || lower === 'sys') {
    return 'is one the server keeps for itself';
  }
  if (lower === 'performance_schema') return 'is one the server keeps for itself';
  return undefined;
}

/** At most `max` tasks at once; the others wait their turn, first come first served. */
export interface Limiter {
  run<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a turn. */
  readonly waiting: number;
}

export function createLimiter(max: number): Limiter {
  const limit = Math.max(1, Math.floor(max));
  const queue: Array<() => void> = [];
  let active = 0;
  const next = () => {
    active -= 1;
    queue.shift()?.();
  };
  return {
    get active() {
      return active;
    },
    get waiting() {
      return queue.length;
    },
    async run<T>(task: () => Promise<T>): Promise<T> {
      if (active >= limit) await new Promise<void>((resolve) => queue.push(resolve));
      active += 1;
      try {
        return await task();
      } finally {
        next();
      }
    },
  };
}

export interface TenantServicesOptions<Conn> {
  /** Builds a tenant's service on first use: `namespace` is the checked name of its schema, database or file. */
  readonly create: (tenant: string, namespace: string) => DatabaseService<Conn>;
  /** The name of a tenant's namespace from its id (checked by {@link tenantNamespace}). Default: the id itself. */
  readonly namespaceOf?: ((tenant: string) => string) | undefined;
}

/** Every tenant's service, built on its first request and kept: see {@link TenantServicesOptions}. */
export class TenantServices<Conn> {
  readonly #services = new Map<string, DatabaseService<Conn>>();
  readonly #options: TenantServicesOptions<Conn>;
  #closed = false;

  constructor(options: TenantServicesOptions<Conn>) {
    this.#options = options;
  }

  /** The tenant's connection once its schema is up to date; a ready tenant: one Map lookup, then its fast path. */
  ensureInitialized(tenant: string, options?: EnsureOptions): Promise<Conn> {
    const service = this.#services.get(tenant);
    if (service !== undefined) return service.ensureInitialized(options);
    return this.#first(tenant, options);
  }

  #first(tenant: string, options: EnsureOptions | undefined): Promise<Conn> {
    if (this.#closed) {
      return Promise.reject(new MigError(MigErrorCode.Aborted, 'The database was closed; create a new one.'));
    }
    let service: DatabaseService<Conn>;
    try {
      // A bad name is refused before anything is kept: unknown ids never fill the map.
      service = this.#options.create(tenant, tenantNamespace(tenant, this.#options.namespaceOf));
    } catch (error) {
      return Promise.reject(error);
    }
    this.#services.set(tenant, service);
    return service.ensureInitialized(options);
  }

  /** One tenant's state (idle when it has had no request), without I/O. */
  state(tenant: string): ServiceState | undefined {
    return this.#services.get(tenant)?.state();
  }

  /** Every known tenant's state, by tenant id. */
  states(): Record<string, ServiceState> {
    const states: Record<string, ServiceState> = {};
    for (const [tenant, service] of this.#services) states[tenant] = service.state();
    return states;
  }

  /** How many tenants have a service. */
  get size(): number {
    return this.#services.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#services.values()].map((s) => s.close()));
  }
}
