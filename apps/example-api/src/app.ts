import { adviceFor } from '@mig/config';
import { isMigError, type Logger, MigErrorCode, type ServiceState } from '@mig/core';
import { type Context, Hono } from 'hono';
import type { Selectable } from 'kysely';
import type { AppDatabase, Db, Tables } from './lib/database.js';

type TodoRow = Selectable<Tables['todos']>;

/** A todo as the API shows it, the same on every engine: the id as a string, done as a boolean, ISO time. */
function toTodo(row: TodoRow) {
  const created = row.created_at instanceof Date ? row.created_at : new Date(`${row.created_at}`);
  return { id: String(row.id), title: row.title, done: Boolean(row.done), created_at: created.toISOString() };
}

/** MySQL has no INSERT … RETURNING: insert, then read the row back by its new id. */
async function insertTodo(db: Db, engine: string | null, title: string): Promise<TodoRow> {
  if (engine !== 'mysql') return db.insertInto('todos').values({ title }).returningAll().executeTakeFirstOrThrow();
  const { insertId } = await db.insertInto('todos').values({ title }).executeTakeFirstOrThrow();
  return db.selectFrom('todos').selectAll().where('id', '=', String(insertId)).executeTakeFirstOrThrow();
}

/** MySQL has no UPDATE … RETURNING: update, then read the row back. */
async function updateTodo(
  db: Db,
  engine: string | null,
  id: string,
  changes: { title?: string; done?: boolean },
): Promise<TodoRow | undefined> {
  // better-sqlite3 binds no booleans: SQLite keeps them as 0 and 1.
  const values =
    engine === 'sqlite' && changes.done !== undefined ? { ...changes, done: Number(changes.done) } : changes;
  if (engine !== 'mysql') {
    return db.updateTable('todos').set(values).where('id', '=', id).returningAll().executeTakeFirst();
  }
  await db.updateTable('todos').set(values).where('id', '=', id).execute();
  return db.selectFrom('todos').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A client error: 400 with a message that says what was wrong. */
class BadRequest extends Error {
  constructor(
    readonly error: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

/** Why a service that is not healthy cannot serve, in a sentence. */
function reason(state: ServiceState): string {
  if (state.phase === 'degraded') {
    return `serving degraded: ${state.lastError?.message ?? 'migrations did not complete'}; retrying at ${state.retryAt}`;
  }
  if (state.lastError?.code === MigErrorCode.Pending) {
    return `${state.pending.length} migration(s) pending and automatic migration is off (refusing policy)`;
  }
  if (state.lastError) return state.lastError.message;
  return `the database service is ${state.phase}`;
}

async function readJson(c: Context): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new BadRequest('invalid_json', `The request body is not valid JSON: ${(error as Error).message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new BadRequest('invalid_body', 'The request body must be a JSON object, e.g. {"title": "buy milk"}.');
  }
  return body as Record<string, unknown>;
}

function title(value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0 || value.length > 200) {
    throw new BadRequest(
      'invalid_field',
      `"title" must be a non-empty string of at most 200 characters (got ${value === undefined ? 'nothing' : JSON.stringify(value).slice(0, 40)}).`,
      'title',
    );
  }
  return value.trim();
}

function todoId(value: string): string {
  if (!/^[1-9][0-9]{0,17}$/.test(value)) {
    throw new BadRequest(
      'invalid_id',
      `The todo id must be a positive integer (got ${JSON.stringify(value).slice(0, 40)}).`,
      'id',
    );
  }
  return value;
}

/**
 * The HTTP API: every handler that touches the database awaits `ensureInitialized()` first, as any
 * existing code would; mig makes that call migrate on first use and cost nothing afterwards.
 */
export function createApp(database: AppDatabase, options: { logger: Logger }): Hono {
  const app = new Hono();

  app.get('/health', async (c) => {
    // /health reports rather than throws: the state says why, the error (with its context) what to do.
    let failure: unknown;
    await database.ensureInitialized().catch((error: unknown) => {
      failure = error;
    });
    const state = database.state();
    if (state.healthy) {
      return c.json({ status: 'ok', migrations: state.migrations, pending: state.pending.length });
    }
    return c.json(
      {
        status: state.phase === 'degraded' ? 'degraded' : 'unavailable',
        reason: reason(state),
        advice: adviceFor(failure ?? state.lastError),
        migrations: state.migrations,
        pending: state.pending,
        error: state.lastError,
        retryAt: state.retryAt,
      },
      503,
    );
  });

  app.get('/migrations', (c) => {
    // Read without I/O: what the service knows, the cache's statistics, the configuration and its sources.
    const report = database.report();
    return c.json({
      database: report.where,
      engine: report.engine,
      state: report.state,
      cache: report.cache,
      config: report.config?.values ?? null,
      configFile: report.config?.file ?? null,
      nodeEnv: report.config?.nodeEnv ?? null,
    });
  });

  app.get('/todos', async (c) => {
    const db = await database.ensureInitialized();
    const todos = await db.selectFrom('todos').selectAll().orderBy('id').execute();
    return c.json(todos.map(toTodo));
  });

  app.post('/todos', async (c) => {
    const body = await readJson(c);
    const value = title(body.title);
    const db = await database.ensureInitialized();
    const todo = await insertTodo(db, database.report().engine, value);
    return c.json(toTodo(todo), 201);
  });

  app.patch('/todos/:id', async (c) => {
    const id = todoId(c.req.param('id'));
    const body = await readJson(c);
    const changes: { title?: string; done?: boolean } = {};
    if (body.title !== undefined) changes.title = title(body.title);
    if (body.done !== undefined) {
      if (typeof body.done !== 'boolean') {
        throw new BadRequest(
          'invalid_field',
          `"done" must be true or false (got ${JSON.stringify(body.done)}).`,
          'done',
        );
      }
      changes.done = body.done;
    }
    if (Object.keys(changes).length === 0) {
      throw new BadRequest('invalid_body', 'Nothing to change: send "title" and/or "done".');
    }
    const db = await database.ensureInitialized();
    const todo = await updateTodo(db, database.report().engine, id, changes);
    return todo ? c.json(toTodo(todo)) : c.json({ error: 'not_found', message: `There is no todo ${id}.` }, 404);
  });

  app.notFound((c) => c.json({ error: 'not_found', message: `No route for ${c.req.method} ${c.req.path}.` }, 404));

  app.onError((error, c) => {
    if (error instanceof BadRequest) {
      return c.json(
        { error: error.error, message: error.message, ...(error.field ? { field: error.field } : {}) },
        400,
      );
    }
    if (isMigError(error)) {
      // The database is not usable yet (pending under the refusing policy, failed, unreachable): 503.
      return c.json({ error: 'unavailable', code: error.code, reason: error.message, advice: adviceFor(error) }, 503);
    }
    options.logger.error({ err: error.message, path: c.req.path }, 'request failed');
    return c.json({ error: 'internal', message: 'Something went wrong; see the server log.' }, 500);
  });

  return app;
}
