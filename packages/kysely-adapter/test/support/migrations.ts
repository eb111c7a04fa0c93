import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

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
