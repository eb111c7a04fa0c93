import { InvalidOptionError } from '@mig/core';
import type { EngineCapabilities } from '../engines/driver.js';
import { drizzleReader } from './drizzle.js';
import { knexReader } from './knex.js';
import { kyselyReader } from './kysely.js';
import { nodePgMigrateReader } from './node-pg-migrate.js';
import { FOREIGN_TOOLS, type ForeignReader, type ForeignTool } from './reader.js';

/** How each tool whose history mig reads keeps it. */
export const READERS: Readonly<Record<ForeignTool, ForeignReader>> = {
  kysely: kyselyReader,
  knex: knexReader,
  'node-pg-migrate': nodePgMigrateReader,
  drizzle: drizzleReader,
};

export function readerFor(tool: unknown): ForeignReader {
  if (typeof tool === 'string' && (FOREIGN_TOOLS as readonly string[]).includes(tool)) {
    return READERS[tool as ForeignTool];
  }
  throw new InvalidOptionError(
    'tool',
    `Unknown migration tool ${JSON.stringify(tool)}: mig reads the history of ${FOREIGN_TOOLS.join(', ')}. Pass one of them.`,
  );
}

/** The tool runs on this engine: its table is worth looking for. */
export function runsOn(reader: ForeignReader, capabilities: EngineCapabilities): boolean {
  return reader.systems === undefined || reader.systems.includes(capabilities.system);
}

/** mig reads the tool's history on this engine. */
export function readableOn(reader: ForeignReader, capabilities: EngineCapabilities): boolean {
  return runsOn(reader, capabilities) && (reader.readableOn?.includes(capabilities.system) ?? true);
}

/** Where the tool keeps its table on this engine by default: its schema where the engine has schemas. */
export function defaultLocation(
  reader: ForeignReader,
  capabilities: EngineCapabilities,
): { readonly schema: string | null; readonly table: string } {
  return { schema: capabilities.schemas ? reader.defaultSchema : null, table: reader.defaultTable };
}
