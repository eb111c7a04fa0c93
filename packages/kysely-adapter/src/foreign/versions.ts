import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidOptionError, MigrationSourceError } from '@mig/core';
import { describeThrown } from '@mig/core/adapter';
import type { ForeignHistoryOptions } from './reader.js';

// The tools that record a version number, not a name (goose, dbmate, golang-migrate): their rows are named
// through the migrations folder, where each file's name starts with its version.

/** A migration of the folder by its version: "20240101120000" → "20240101120000_users", leading zeros dropped. */
export function localVersions(options: ForeignHistoryOptions, tool: string): Map<string, string> {
  const folder = resolve(options.migrationsDir ?? '');
  let names: string[];
  try {
    names = readdirSync(folder);
  } catch (error) {
    throw new MigrationSourceError(
      `Reading ${tool}'s history needs the migrations folder, to name its versions, and ${folder} cannot be read: ${describeThrown(error)}.`,
      { cause: error, context: { folder, tool } },
    );
  }
  const byVersion = new Map<string, string>();
  for (const file of names) {
    if (file.startsWith('.') || file.endsWith('.down.sql')) continue;
    const match = /^(\d+)_/.exec(file);
    if (!match || !/\.sql$/.test(file)) continue;
    byVersion.set(BigInt(match[1] as string).toString(), file.replace(/(\.up)?\.sql$/, ''));
  }
  return byVersion;
}

/** The version a row records, in the form `localVersions` keys it by; null when it is not a number. */
export function versionKey(version: unknown): string | null {
  const text = String(version ?? '').trim();
  return /^\d+$/.test(text) ? BigInt(text).toString() : null;
}

/** The readers of versions need the folder: checked before any query. */
export function requireFolder(options: ForeignHistoryOptions, tool: string): void {
  if (typeof options.migrationsDir !== 'string' || options.migrationsDir.trim() === '') {
    throw new InvalidOptionError(
      'migrationsDir',
      `Reading ${tool}'s history needs its migrations folder: ${tool}'s table records version numbers, not names, ` +
        'and mig names them through the files there. Pass migrationsDir.',
    );
  }
}
