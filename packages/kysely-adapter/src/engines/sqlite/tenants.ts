import { access, readdir } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { InvalidOptionError } from '@mig/core';
import type { DatabaseLocation, TenantFiles } from '../driver.js';

/** The folder and extension of the configured file: each tenant's file goes beside it, as NAME.EXT. */
function layout(location: DatabaseLocation): { dir: string; ext: string; own: string } {
  const path = location.path;
  if (path === undefined || path === ':memory:' || path === '') {
    throw new InvalidOptionError(
      'tenants',
      'Tenants on SQLite are files beside the configured one: name a file (sqlite:./data/app.db), not memory.',
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

/** A file per tenant on SQLite: NAME.EXT beside the configured file (which is no tenant's). */
export const sqliteTenantFiles: TenantFiles = {
  kind: 'file',
  url(location, name) {
    const { dir, ext } = layout(location);
    return `sqlite:${join(dir, `${name}${ext}`)}`;
  },
  async list(location, pattern) {
    const { dir, ext, own } = layout(location);
    const like = likeToRegExp(pattern);
    const files = await readdir(dir).catch(() => [] as string[]);
    return files
      .filter((f) => f.endsWith(ext) && f !== own)
      .map((f) => f.slice(0, -ext.length))
      .filter((name) => like.test(name))
      .sort();
  },
  async exists(location, name) {
    const { dir, ext } = layout(location);
    return access(join(dir, `${name}${ext}`)).then(
      () => true,
      () => false,
    );
  },
};
