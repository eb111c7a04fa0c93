import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';
import type { MigrationDb } from './db.js';

/**
 * The Kysely a migration's code runs with, refusing every query it sends once `signal` aborted (its
 * timeout, a stop from outside): a migration that goes on after it was stopped cannot change anything more,
 * even where its session could not be ended (an embedded engine, a session already gone).
 */
export function refusingAfter(db: MigrationDb, signal: AbortSignal): MigrationDb {
  return db.withPlugin(new RefuseAfterStop(signal));
}

class RefuseAfterStop implements KyselyPlugin {
  readonly #signal: AbortSignal;

  constructor(signal: AbortSignal) {
    this.#signal = signal;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (this.#signal.aborted) throw this.#signal.reason;
    return args.node;
  }

  async transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    return args.result;
  }
}
