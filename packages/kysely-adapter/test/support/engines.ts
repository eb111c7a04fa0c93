import type { Kysely } from 'kysely';
import { createTestPGlite } from '../../../../test/support/pglite.js';
import { createTestDatabase } from '../../../../test/support/postgres.js';

/** A fresh database on one engine, for one test. */
export interface EngineHandle {
  readonly db: Kysely<any>;
  close(): Promise<void>;
}

export interface Engine {
  readonly name: 'postgres' | 'pglite';
  open(): Promise<EngineHandle>;
}

export const engines: readonly Engine[] = [
  {
    name: 'postgres',
    async open() {
      const database = await createTestDatabase('adapter');
      return { db: database.db, close: () => database.drop() };
    },
  },
  {
    name: 'pglite',
    async open() {
      const pglite = await createTestPGlite();
      return { db: pglite.db, close: () => pglite.close() };
    },
  },
];
