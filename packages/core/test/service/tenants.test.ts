import { describe, expect, it } from 'vitest';
import { MigErrorCode } from '../../src/errors.js';
import type { ServiceState } from '../../src/service/state.js';
import { createLimiter, namespaceProblem, TenantServices, tenantNamespace } from '../../src/service/tenants.js';
import type { DatabaseService } from '../../src/service/types.js';

describe('tenantNamespace', () => {
  it('keeps names that need quoting, and maps ids through the given function', () => {
    expect(tenantNamespace('acme')).toBe('acme');
    expect(tenantNamespace('Acme-EU')).toBe('Acme-EU');
    expect(tenantNamespace('acme', (id) => `tenant_${id}`)).toBe('tenant_acme');
    expect(tenantNamespace('x', () => `_${'a'.repeat(62)}`)).toHaveLength(63);
  });

  it.each([
    ['a"b', 'holds characters'],
    ['x; drop table y', 'holds characters'],
    ['a.b', 'holds characters'],
    ['../up', 'holds characters'],
    ['1abc', 'holds characters'],
    ['naïve', 'holds characters'],
    ['a'.repeat(64), 'longer than 63 bytes'],
    ['pg_catalog', 'keeps for itself'],
    ['PG_temp', 'keeps for itself'],
    ['information_schema', 'keeps for itself'],
    ['mysql', 'keeps for itself'],
  ])('refuses %j (%s), naming the tenant and the name', (name, why) => {
    let error: (Error & { code?: string; context?: Record<string, unknown> }) | undefined;
    try {
      tenantNamespace('the-id', () => name);
    } catch (caught) {
      error = caught as typeof error;
    }
    expect(error?.code).toBe(MigErrorCode.InvalidOption);
    expect(error?.message).toContain(why);
    expect(error?.message).toContain('"the-id"');
    expect(error?.context).toMatchObject({ tenant: 'the-id', name, reason: 'bad-tenant-name' });
  });

  it('refuses an empty tenant id, and a function that returns no name', () => {
    expect(() => tenantNamespace('')).toThrow(/No tenant given/);
    expect(namespaceProblem(undefined)).toBe('is empty');
    expect(() => tenantNamespace('x', () => '')).toThrow(/is empty/);
  });
});

describe('createLimiter', () => {
  it('runs at most n tasks at once, in order of arrival, and frees a turn when a task fails', async () => {
    const limiter = createLimiter(2);
    let active = 0;
    let most = 0;
    const order: number[] = [];
    const task = (i: number) =>
      limiter.run(async () => {
        active += 1;
        most = Math.max(most, active);
        order.push(i);
        await new Promise((resolve) => setTimeout(resolve, 5));
        active -= 1;
        if (i === 1) throw new Error('boom');
        return i;
      });
    const results = await Promise.allSettled([0, 1, 2, 3, 4].map(task));
    expect(most).toBe(2);
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(limiter.active).toBe(0);
    expect(limiter.waiting).toBe(0);
  });
});

describe('TenantServices', () => {
  /** A service that is ready at once, counting how many were made. */
  function fakeServices() {
    const made: string[] = [];
    const services = new TenantServices<string>({
      namespaceOf: (id) => `tenant_${id}`,
      create(tenant, name) {
        made.push(`${tenant}:${name}`);
        const ready = Promise.resolve(name);
        let closed = false;
        return {
          ensureInitialized: () => ready,
          warm: async () => {},
          state: () => ({ phase: closed ? 'closed' : 'ready', tenant }) as unknown as ServiceState,
          close: async () => {
            closed = true;
          },
        } satisfies DatabaseService<string>;
      },
    });
    return { services, made };
  }

  it("builds a tenant's service once, on its first request, and answers later ones with the same promise", async () => {
    const { services, made } = fakeServices();
    expect(await services.ensureInitialized('acme')).toBe('tenant_acme');
    const first = services.ensureInitialized('acme');
    expect(services.ensureInitialized('acme')).toBe(first);
    await services.ensureInitialized('globex');
    expect(made).toEqual(['acme:tenant_acme', 'globex:tenant_globex']);
    expect(services.size).toBe(2);
    expect(Object.keys(services.states())).toEqual(['acme', 'globex']);
    expect(services.state('nobody')).toBeUndefined();
  });

  it('refuses a bad name without keeping anything, and refuses every request once closed', async () => {
    const { services, made } = fakeServices();
    await expect(services.ensureInitialized('a"b')).rejects.toMatchObject({ code: MigErrorCode.InvalidOption });
    expect(services.size).toBe(0);
    expect(made).toEqual([]);
    await services.ensureInitialized('acme');
    await services.close();
    expect(services.state('acme')?.phase).toBe('closed');
    await expect(services.ensureInitialized('new')).rejects.toMatchObject({ code: MigErrorCode.Aborted });
  });
});
