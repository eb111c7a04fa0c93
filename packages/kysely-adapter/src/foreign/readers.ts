import { InvalidOptionError } from '@mig/core';
import type { EngineCapabilities } from '../engines/driver.js';
import { drizzleReader } from './drizzle.js';
import { flywayReader } from './flyway.js';
import { gooseReader } from './goose.js';
import { knexReader } from './knex.js';
import { kyselyReader } from './kysely.js';
import { nodePgMigrateReader } from './node-pg-migrate.js';
import { prismaReader } from './prisma.js';
import { FOREIGN_TOOLS, type ForeignReader, type ForeignTool } from './reader.js';
import { dbmateReader, golangMigrateReader } from './schema-migrations.js';

/** How each tool whose history mig reads keeps it. */
export const READERS: Readonly<Record<ForeignTool, ForeignReader>> = {
  kysely: kyselyReader,
  knex: knexReader,
  'node-pg-migrate': nodePgMigrateReader,
  drizzle: drizzleReader,
  prisma: prismaReader,
  goose: gooseReader,
  dbmate: dbmateReader,
  'golang-migrate': golangMigrateReader,
  flyway: flywayReader,
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
