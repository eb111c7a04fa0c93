import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

/** A temporary migrations folder that tests can edit between runs. */
export interface MigrationFolder {
  readonly dir: string;
  write(file: string, content: string): Promise<void>;
  remove(file: string): Promise<void>;
  dispose(): Promise<void>;
}

export async function migrationFolder(files: Record<string, string> = {}): Promise<MigrationFolder> {
  const dir = await mkdtemp(join(tmpdir(), 'mig-migrations-'));
  const folder: MigrationFolder = {
    dir,
    write: (file, content) => writeFile(join(dir, file), content),
    remove: (file) => unlink(join(dir, file)),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
  for (const [file, content] of Object.entries(files)) await folder.write(file, content);
  return folder;
}
