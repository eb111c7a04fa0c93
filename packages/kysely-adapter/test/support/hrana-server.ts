import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';

// A small libSQL server for the tests: the Hrana protocol over HTTP (version 2, JSON), as sqld and Turso
// serve it to `@libsql/client`, on one SQLite file through better-sqlite3. Each stream (a baton the client
// carries from request to request) is a connection of its own, so an interactive transaction holds across
// requests as on a real server. A stream left idle longer than `streamIdleMs` is rolled back and closed, as a
// server ends the stream of a client that went away. A statement outside a transaction (or a BEGIN) that
// finds the file locked is tried again for up to `busyMs`, as a server's busy timeout does, with
// asynchronous pauses (a wait inside SQLite would stall this process, which runs the tests too); then it
// fails with SQLITE_BUSY. Not implemented: cursors and `describe` (the client does not use them over HTTP v2).

export interface HranaServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** Requests that carried the expected bearer token; with `authToken`, the others are refused with 401. */
  readonly authorized: () => number;
  close(): Promise<void>;
}

export interface HranaServerOptions {
  /** The database file (created if missing, switched to WAL). */
  readonly file: string;
  /** Refuse requests without `Authorization: Bearer <authToken>`. */
  readonly authToken?: string | undefined;
  /** Default 5 s. */
  readonly streamIdleMs?: number | undefined;
  /** Default 10 s. */
  readonly busyMs?: number | undefined;
}

type Value =
  | { type: 'null' }
  | { type: 'integer'; value: string }
  | { type: 'float'; value: number }
  | { type: 'text'; value: string }
  | { type: 'blob'; base64: string };

interface Stmt {
  sql?: string;
  sql_id?: number;
  args?: Value[];
  named_args?: { name: string; value: Value }[];
}

type Cond =
  | { type: 'ok' | 'error'; step: number }
  | { type: 'not'; cond: Cond }
  | { type: 'and' | 'or'; conds: Cond[] }
  | { type: 'is_autocommit' };

interface Stream {
  readonly db: Database.Database;
  readonly sqls: Map<number, string>;
  timer: NodeJS.Timeout | undefined;
}

class HranaError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

export async function startHranaServer(options: HranaServerOptions): Promise<HranaServer> {
  const idleMs = options.streamIdleMs ?? 5_000;
  const busyMs = options.busyMs ?? 10_000;
  const setup = new Database(options.file);
  setup.pragma('journal_mode = WAL');
  setup.close();
  const streams = new Map<string, Stream>();
  let authorized = 0;

  const closeStream = (baton: string) => {
    const stream = streams.get(baton);
    if (!stream) return;
    streams.delete(baton);
    clearTimeout(stream.timer);
    if (stream.db.inTransaction) stream.db.exec('ROLLBACK');
    stream.db.close();
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => reply(res, 500, { message: String(error) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (options.authToken !== undefined) {
      if (req.headers.authorization !== `Bearer ${options.authToken}`)
        return reply(res, 401, { message: 'Unauthorized' });
      authorized += 1;
    }
    if (req.method === 'GET') return req.url === '/v2' ? reply(res, 200, {}) : reply(res, 404, {});
    if (req.method !== 'POST' || req.url !== '/v2/pipeline') return reply(res, 404, {});
    const body = JSON.parse(await read(req)) as { baton?: string | null; requests: { type: string }[] };
    let baton = body.baton ?? null;
    let stream: Stream | undefined;
    if (baton === null) {
      stream = { db: new Database(options.file, { timeout: 0 }), sqls: new Map(), timer: undefined };
      stream.db.defaultSafeIntegers(true);
    } else {
      stream = streams.get(baton);
      streams.delete(baton);
      if (!stream) return reply(res, 400, { message: 'The stream has expired or its baton is invalid' });
    }
    clearTimeout(stream.timer);
    const results: unknown[] = [];
    let closed = false;
    for (const request of body.requests) {
      if (closed) {
        results.push({ type: 'error', error: { message: 'The stream is closed', code: 'STREAM_CLOSED' } });
        continue;
      }
      try {
        results.push({ type: 'ok', response: await run(stream, request, busyMs) });
        if (request.type === 'close') closed = true;
      } catch (error) {
        results.push({ type: 'error', error: errorOf(error) });
      }
    }
    if (closed) {
      if (stream.db.inTransaction) stream.db.exec('ROLLBACK');
      stream.db.close();
      baton = null;
    } else {
      baton = randomBytes(12).toString('hex');
      const kept = baton;
      streams.set(kept, stream);
      stream.timer = setTimeout(() => closeStream(kept), idleMs);
      stream.timer.unref();
    }
    reply(res, 200, { baton, base_url: null, results });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    authorized: () => authorized,
    async close() {
      for (const baton of [...streams.keys()]) closeStream(baton);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function run(
  stream: Stream,
  request: { type: string } & Record<string, unknown>,
  busyMs: number,
): Promise<unknown> {
  switch (request.type) {
    case 'execute':
      return { type: 'execute', result: await waiting(stream, busyMs, () => execute(stream, request.stmt as Stmt)) };
    case 'batch': {
      const { steps } = request.batch as { steps: { condition?: Cond; stmt: Stmt }[] };
      return { type: 'batch', result: await batch(stream, steps, busyMs) };
    }
    case 'sequence':
      stream.db.exec(sqlOf(stream, request as Stmt));
      return { type: 'sequence' };
    case 'store_sql':
      stream.sqls.set(request.sql_id as number, request.sql as string);
      return { type: 'store_sql' };
    case 'close_sql':
      stream.sqls.delete(request.sql_id as number);
      return { type: 'close_sql' };
    case 'get_autocommit':
      return { type: 'get_autocommit', is_autocommit: !stream.db.inTransaction };
    case 'close':
      return { type: 'close' };
    default:
      throw new HranaError(`This test server does not serve "${request.type}" requests`, 'PROTOCOL_ERROR');
  }
}

/** Runs `work`, again after a pause while it finds the file locked outside a transaction, for up to `busyMs`. */
async function waiting<T>(stream: Stream, busyMs: number, work: () => T): Promise<T> {
  const started = performance.now();
  for (;;) {
    try {
      return work();
    } catch (error) {
      const busy = String((error as { code?: unknown }).code).startsWith('SQLITE_BUSY');
      if (!busy || stream.db.inTransaction || performance.now() - started > busyMs) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function batch(stream: Stream, steps: { condition?: Cond; stmt: Stmt }[], busyMs: number) {
  const results: unknown[] = [];
  const errors: unknown[] = [];
  const holds = (cond: Cond): boolean => {
    switch (cond.type) {
      case 'ok':
        return results[cond.step] !== null && results[cond.step] !== undefined;
      case 'error':
        return errors[cond.step] !== null && errors[cond.step] !== undefined;
      case 'not':
        return !holds(cond.cond);
      case 'and':
        return cond.conds.every(holds);
      case 'or':
        return cond.conds.some(holds);
      case 'is_autocommit':
        return !stream.db.inTransaction;
    }
  };
  for (const step of steps) {
    if (step.condition && !holds(step.condition)) {
      results.push(null);
      errors.push(null);
      continue;
    }
    try {
      results.push(await waiting(stream, busyMs, () => execute(stream, step.stmt)));
      errors.push(null);
    } catch (error) {
      results.push(null);
      errors.push(errorOf(error));
    }
  }
  return { step_results: results, step_errors: errors };
}

function sqlOf(stream: Stream, stmt: Stmt): string {
  if (stmt.sql !== undefined) return stmt.sql;
  const stored = stmt.sql_id === undefined ? undefined : stream.sqls.get(stmt.sql_id);
  if (stored === undefined) throw new HranaError(`No stored SQL with id ${String(stmt.sql_id)}`, 'SQL_NOT_FOUND');
  return stored;
}

function execute(stream: Stream, stmt: Stmt) {
  const statement = stream.db.prepare(sqlOf(stream, stmt));
  const named = Object.fromEntries(
    (stmt.named_args ?? []).map((a) => [a.name.replace(/^[:@$]/, ''), fromValue(a.value)]),
  );
  const params: unknown[] = (stmt.args ?? []).map(fromValue);
  if (stmt.named_args?.length) params.push(named);
  if (!statement.reader) {
    const info = statement.run(...params);
    return {
      cols: [],
      rows: [],
      affected_row_count: Number(info.changes),
      last_insert_rowid: String(info.lastInsertRowid),
    };
  }
  const cols = statement.columns().map((c) => ({ name: c.name, decltype: c.type }));
  const rows = (statement.raw(true).all(...params) as unknown[][]).map((row) => row.map(toValue));
  return { cols, rows, affected_row_count: 0, last_insert_rowid: null };
}

function fromValue(value: Value): unknown {
  switch (value.type) {
    case 'null':
      return null;
    case 'integer':
      return BigInt(value.value);
    case 'float':
      return value.value;
    case 'text':
      return value.value;
    case 'blob':
      return Buffer.from(value.base64, 'base64');
  }
}

function toValue(value: unknown): Value {
  if (value === null || value === undefined) return { type: 'null' };
  if (typeof value === 'bigint') return { type: 'integer', value: String(value) };
  if (typeof value === 'number') return { type: 'float', value };
  if (Buffer.isBuffer(value)) return { type: 'blob', base64: value.toString('base64') };
  return { type: 'text', value: String(value) };
}

/** An error as the protocol carries it: SQLite's code (SQLITE_BUSY, SQLITE_ERROR…) and its message. */
function errorOf(error: unknown): { message: string; code: string } {
  const { message, code } = error as { message?: unknown; code?: unknown };
  const base = typeof code === 'string' ? code.replace(/^(SQLITE_[A-Z]+)_.*$/, '$1') : 'UNKNOWN';
  return { message: String(message), code: base };
}

function read(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
