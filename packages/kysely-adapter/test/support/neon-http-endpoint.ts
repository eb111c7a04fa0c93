import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PG_ADMIN_URL } from '../../../../test/support/postgres.js';

// A local stand-in for Neon's SQL-over-HTTP endpoint, speaking the protocol of @neondatabase/serverless's
// neon(): POST /sql, the database named by the Neon-Connection-String header, a body of {query, params} (one
// statement) or {queries: [...]} (one transaction, Neon-Batch-Isolation-Level / -Read-Only / -Deferrable),
// answered with {fields, rows, rowCount, command} (rows as arrays of text when Neon-Array-Mode and
// Neon-Raw-Text-Output say so) or {results: [...]}, and an error as HTTP 400 with PostgreSQL's error fields.
// Behind it, real pg connections to the local PostgreSQL: each request takes one, uses the extended protocol
// (one statement per query, as Neon's proxy does) and hands it back with DISCARD ALL, so that nothing of a
// session survives from one request to the next; a transaction request runs in one pg transaction on one
// connection. It does not reproduce Neon's proxy itself: its limits (request and response sizes, timeouts),
// its authentication, its own error texts, or its connection pooling.

export interface NeonHttpEndpoint {
  /** `http://127.0.0.1:PORT/sql`: what `neonConfig.fetchEndpoint` points at. */
  readonly url: string;
  /** Requests served so far, and transaction requests among them. */
  readonly served: { requests: number; transactions: number };
  close(): Promise<void>;
}

/** The error fields Neon's endpoint answers with (those NeonDbError reads). */
const ERROR_FIELDS = [
  'severity',
  'code',
  'detail',
  'hint',
  'position',
  'internalPosition',
  'internalQuery',
  'where',
  'schema',
  'table',
  'column',
  'dataType',
  'constraint',
  'file',
  'line',
  'routine',
] as const;

/** Neon's names for isolation levels, as the header carries them. */
const ISOLATION: Record<string, string> = {
  ReadUncommitted: 'read uncommitted',
  ReadCommitted: 'read committed',
  RepeatableRead: 'repeatable read',
  Serializable: 'serializable',
};

/** Every value as PostgreSQL's text, the way Neon-Raw-Text-Output asks for it. */
const RAW_TEXT = { getTypeParser: () => (value: string) => value };

interface Statement {
  readonly query: string;
  readonly params?: unknown[];
}

let shared: Promise<NeonHttpEndpoint> | undefined;

/** One endpoint per test process, started on first use; it keeps nothing alive. */
export function neonHttpEndpoint(): Promise<NeonHttpEndpoint> {
  shared ??= startNeonHttpEndpoint();
  return shared;
}

export async function startNeonHttpEndpoint(): Promise<NeonHttpEndpoint> {
  const pools = new Map<string, pg.Pool>();
  const served = { requests: 0, transactions: 0 };
  const poolFor = (connectionString: string): pg.Pool => {
    const given = new URL(connectionString);
    const target = new URL(PG_ADMIN_URL);
    target.pathname = given.pathname;
    target.username = given.username || target.username;
    const key = target.toString();
    let pool = pools.get(key);
    if (!pool) {
      pool = new pg.Pool({ connectionString: key, max: 4, idleTimeoutMillis: 1000, allowExitOnIdle: true });
      pool.on('error', () => {});
      pools.set(key, pool);
    }
    return pool;
  };
  const server: Server = createServer((request, response) => {
    void serve(request, response).catch((error: unknown) => answer(response, 500, { message: String(error) }));
  });
  const serve = async (request: IncomingMessage, response: ServerResponse) => {
    const path = new URL(request.url ?? '/', 'http://endpoint').pathname;
    if (request.method !== 'POST' || path !== '/sql') return answer(response, 404, { message: 'POST /sql only' });
    const connectionString = header(request, 'neon-connection-string');
    if (!connectionString) return answer(response, 400, { message: 'missing Neon-Connection-String header' });
    const body = JSON.parse(await read(request)) as Statement | { queries: Statement[] };
    const arrayMode = header(request, 'neon-array-mode') === 'true';
    const rawText = header(request, 'neon-raw-text-output') === 'true';
    served.requests++;
    const client = await poolFor(connectionString).connect();
    let broken = false;
    try {
      const run = async (s: Statement) => {
        const result = await client.query({
          text: s.query,
          values: s.params ?? [],
          rowMode: arrayMode ? 'array' : undefined,
          types: rawText ? RAW_TEXT : undefined,
          queryMode: 'extended',
        } as pg.QueryConfig);
        return {
          command: result.command,
          rowCount: result.rowCount,
          rows: result.rows,
          fields: result.fields,
          rowAsArray: arrayMode,
        };
      };
      if (!('queries' in body)) return answer(response, 200, await run(body));
      served.transactions++;
      await client.query(begin(request));
      try {
        const results = [];
        for (const statement of body.queries) results.push(await run(statement));
        await client.query('commit');
        return answer(response, 200, { results });
      } catch (error) {
        await client.query('rollback').catch(() => {
          broken = true;
        });
        throw error;
      }
    } catch (error) {
      if (!(error instanceof pg.DatabaseError)) {
        broken = true;
        throw error;
      }
      const fields = Object.fromEntries(ERROR_FIELDS.map((f) => [f, (error as unknown as Record<string, unknown>)[f]]));
      return answer(response, 400, { message: error.message, ...fields });
    } finally {
      // Nothing of a session outlives its request: settings, prepared statements, advisory locks, LISTENs.
      if (!broken) await client.query('discard all').catch(() => (broken = true));
      client.release(broken);
    }
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/sql`,
    served,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((p) => p.end().catch(() => {})));
    },
  };
}

/** BEGIN with what the transaction request's headers ask for. */
function begin(request: IncomingMessage): string {
  const parts = ['begin'];
  const isolation = header(request, 'neon-batch-isolation-level');
  if (isolation && ISOLATION[isolation]) parts.push(`isolation level ${ISOLATION[isolation]}`);
  if (header(request, 'neon-batch-read-only') === 'true') parts.push('read only');
  if (header(request, 'neon-batch-deferrable') === 'true') parts.push('deferrable');
  return parts.join(' ');
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function read(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}

/** The host of test URLs: Neon's driver sends their requests to `https://api.neon-http.localhost/sql`. */
export const TEST_HOST = 'ep-mig-test.neon-http.localhost';

/** A `neon+https://` URL of a local test database (a `postgres://` URL of the local server). */
export function neonHttpUrl(postgresUrl: string): string {
  const given = new URL(postgresUrl);
  return `neon+https://${given.username}@${TEST_HOST}${given.pathname}`;
}

/**
 * A module for `node --import` that sends the requests of a spawned process's Neon driver (a bundled copy
 * that no test can reach) to the endpoint in MIG_TEST_NEON_HTTP_ENDPOINT, by the host of its test URLs.
 */
export const NEON_HTTP_PRELOAD = fileURLToPath(new URL('./neon-http-preload.mjs', import.meta.url));

/** The environment a spawned process needs to reach `endpoint` on test URLs (see NEON_HTTP_PRELOAD). */
export function neonHttpEnv(endpoint: NeonHttpEndpoint): Record<string, string> {
  return { NODE_OPTIONS: `--import=${NEON_HTTP_PRELOAD}`, MIG_TEST_NEON_HTTP_ENDPOINT: endpoint.url };
}
