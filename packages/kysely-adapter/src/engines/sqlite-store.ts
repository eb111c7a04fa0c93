import { InvalidOptionError } from '@mig/core';
import type { StoreTables } from '../internal/tables.js';
import type { EngineSettings, StoreEngine } from './store-engine.js';

/** PLACEHOLDER: mig's store SQL on Sqlite (being written). */
export function createSqliteStoreEngine(tables: StoreTables, _settings: EngineSettings): StoreEngine {
  const missing = () => {
    throw new InvalidOptionError('db', 'The sqlite store is not written yet.');
  };
  return new Proxy({ tables } as StoreEngine, { get: (target, key) => (key === 'tables' ? target.tables : missing) });
}
