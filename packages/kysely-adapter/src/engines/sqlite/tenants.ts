import { access, readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InvalidOptionError } from '@mig/core';
import type { DatabaseLocation, TenantFiles } from '../driver.js';

/** The folder and extension of the configured file: each tenant's file goes beside it, as NAME.EXT. */
function layout(location: DatabaseLocation, files: FileUrls): { dir: string; ext: string; own: string } {
  const path = location.path;
  if (path === undefined || path === ':memory:' || path === '') {
    throw new InvalidOptionError(
      'tenants',
      `Tenants on ${files.label} are files beside the configured one: name a file (${files.scheme}:./data/app.db), ` +
        `not ${path === undefined ? 'a server' : 'memory'}.`,
      { context: { reason: 'no-tenant-folder' } },
    );
  }
  const ext = extname(path) || '.db';
  return { dir: dirname(path), ext, own: basename(path) };
}

/** A SQL LIKE pattern as a regular expression (`%` any run, `_` any one character, `\` escapes). */
function likeToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i += 1) {
    const c = pattern[i] as string;
    if (c === '\\' && i + 1 < pattern.length) {
      i += 1;
      source += (pattern[i] as string).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    } else if (c === '%') source += '.*';
    else if (c === '_') source += '.';
    else source += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

/** How an engine on SQLite files names one in a URL: `sqlite:PATH`, `libsql+file:PATH`. */
export interface FileUrls {
  readonly scheme: string;
  /** The engine, for messages. */
  readonly label: string;
}

/** A file per tenant: NAME.EXT beside the configured file (which is no tenant's), named by `files.scheme`. */
export function fileTenants(files: FileUrls): TenantFiles {
  return {
    kind: 'file',
    url(location, name) {
      const { dir, ext } = layout(location, files);
      return `${files.scheme}:${join(dir, `${name}${ext}`)}`;
    },
    list: (location, pattern) => listTenants(layout(location, files), pattern),
    async exists(location, name) {
      const { dir, ext } = layout(location, files);
      return access(join(dir, `${name}${ext}`)).then(
        () => true,
        () => false,
      );
    },
  };
}

/** A file per tenant on SQLite. */
export const sqliteTenantFiles: TenantFiles = fileTenants({ scheme: 'sqlite', label: 'SQLite' });

async function listTenants(
  { dir, ext, own }: { dir: string; ext: string; own: string },
  pattern: string,
): Promise<string[]> {
  const like = likeToRegExp(pattern);
  const files = await readdir(dir).catch(() => [] as string[]);
  return files
    .filter((f) => f.endsWith(ext) && f !== own)
    .map((f) => f.slice(0, -ext.length))
    .filter((name) => like.test(name))
    .sort();
}
