import type { TenantSelection } from '@mig/config';
import { InvalidOptionError, namespaceProblem } from '@mig/core';
import type { TenantLayout } from '@mig/service';
import type { CommandContext } from '../context.js';

/** The tenants a command works on, and the names it was given that it refuses (never touched). */
export interface TenantList {
  /** What selected them, for messages: "schemas like 'tenant_%'", "3 named tenants". */
  readonly described: string;
  readonly names: readonly string[];
  /** Named explicitly: a missing schema is created (when allowed) rather than skipped. */
  readonly explicit: boolean;
}

/**
 * The tenants `--tenants` selects: a LIKE pattern over the server's schemas (databases on MySQL), a comma
 * list, or (with no value) the configuration's `tenants` (a pattern, a list, or a function given the Kysely
 * instance). A name that is not a valid tenant name is refused before anything runs.
 */
export async function selectTenants(
  ctx: CommandContext,
  layout: TenantLayout,
  flag: string | true,
): Promise<TenantList> {
  const selection: TenantSelection | undefined = flag === true ? ctx.config.values.tenants : flag;
  if (selection === undefined) {
    throw new InvalidOptionError(
      'tenants',
      "--tenants was given no pattern and mig.config has no `tenants`: pass --tenants 'tenant_%' (a LIKE pattern " +
        'over schema names) or a comma-separated list, or set tenants in mig.config.ts.',
    );
  }
  if (typeof selection === 'string' && !selection.includes(',')) {
    const names = await layout.list(selection);
    return { described: `${layout.kind}s like '${selection}'`, names, explicit: false };
  }
  const names =
    typeof selection === 'string'
      ? selection.split(',').map((n) => n.trim())
      : typeof selection === 'function'
        ? await selection(ctx.db)
        : selection;
  const unique = [...new Set(names.filter((n) => n !== ''))];
  const refused = unique.flatMap((name) => {
    const problem = namespaceProblem(name);
    return problem === undefined ? [] : [`${JSON.stringify(name)} ${problem}`];
  });
  if (refused.length > 0) {
    throw new InvalidOptionError(
      'tenants',
      `Refused tenant name(s): ${refused.join('; ')}. Tenant names are letters, digits, underscores and hyphens, ` +
        'starting with a letter or underscore, at most 63 bytes. Nothing was run.',
      { context: { reason: 'bad-tenant-name' } },
    );
  }
  return { described: `${unique.length} named tenant(s)`, names: unique, explicit: true };
}

/**
 * Runs `work` for each name, `concurrency` at a time, in order of the list; a failure of one never stops the
 * others. Stops starting new ones once `stop` is aborted.
 */
export async function forEachTenant(
  names: readonly string[],
  concurrency: number,
  work: (name: string) => Promise<void>,
  stop?: AbortSignal | undefined,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < names.length && !stop?.aborted) {
      const name = names[next] as string;
      next += 1;
      await work(name);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, names.length)) }, worker));
}
