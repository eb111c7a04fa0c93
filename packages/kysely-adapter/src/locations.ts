import { InvalidOptionError, MigError, MigErrorCode } from '@mig/core';
import type { StoreTarget } from '@mig/core/adapter';

// What several engines' drivers share about URLs and driver packages; it knows no engine.

/** Host and port, database name (or `database` when the URL names none); never the user or password. */
export function serverTarget(
  url: string,
  system: string,
  defaultPort: string,
  database: string,
): Omit<StoreTarget, 'table'> {
  try {
    const parsed = new URL(url);
    const namespace = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || database || 'unknown';
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return { system, namespace, server: `${host}:${parsed.port || defaultPort}` };
  } catch {
    return { system, namespace: 'unknown', server: 'unknown' };
  }
}

/** "postgresql db.internal:5432/shop": where a server connection goes, for people. */
export function serverWhere(target: Omit<StoreTarget, 'table'>): string {
  return `${target.system} ${target.server}/${target.namespace}`;
}

/**
 * The file of a file URL: `sqlite:./app.db`, `sqlite:///var/app.db` (absolute), `file:app.db?mode=ro`
 * (query dropped), `sqlite::memory:`.
 */
export function filePath(rest: string, scheme: string): string {
  let path = rest.replace(/[?#].*$/, '');
  if (path.startsWith('//')) path = path.slice(2); // sqlite:///abs/path → /abs/path; sqlite://rel → rel
  path = decodeURIComponent(path);
  if (path === ':memory:' || path === 'memory') return ':memory:';
  if (path === '') {
    throw new InvalidOptionError(
      'url',
      `A "${scheme}:" URL needs the database file after the colon, as in ${scheme}:./app.db (sqlite::memory: for memory).`,
      { context: { scheme } },
    );
  }
  return path;
}

/**
 * What an engine's `import()` of its driver package (an optional peer dependency) does when it fails:
 * `await import('mysql2').catch(missingDriver('mysql2'))`. A missing package becomes an error that says which
 * one to install; any other failure goes on as it was.
 *
 * Written as `.catch()` on the `import()` itself, so a bundler sees a handled import: esbuild bundles the
 * driver when it is installed and leaves the import as it is when not (it fails then at run time, with this
 * error, and only where the engine is used), instead of stopping the build.
 */
export function missingDriver(name: string): (error: unknown) => never {
  return (error) => {
    const { code, message } = error as { code?: unknown; message?: unknown };
    const missing = code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
    if (missing && String(message).includes(`'${name}'`)) {
      throw new MigError(
        MigErrorCode.InvalidOption,
        `This database URL needs the package "${name}", which is not installed. Install it (npm install ${name}) and run again.`,
        { cause: error, context: { package: name } },
      );
    }
    throw error;
  };
}
