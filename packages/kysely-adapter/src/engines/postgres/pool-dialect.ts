import { PostgresDialect, type PostgresPool } from 'kysely';
import { brandAdapter } from '../../brand.js';
import { NotificationHub, withNotifications } from './notifications.js';

/**
 * The slice of a pg-compatible pool (pg's, or Neon's serverless `Pool`, which is pg's over a WebSocket) that
 * mig taps: its clients' connection errors and notifications.
 */
export interface TappablePool extends PostgresPool {
  // biome-ignore lint/suspicious/noExplicitAny: pg's and Neon's overloads of `on`, by event.
  on(event: 'error' | 'connect', listener: (...args: any[]) => void): unknown;
}

/** The slice of a pool's client that mig taps. */
interface TappableClient {
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'notification', listener: (message: { channel: string; payload?: string | undefined }) => void): unknown;
}

/**
 * A Kysely PostgresDialect on a pg-compatible pool (or a function making it on the first query), branded with its engine (a registry name) so that mig reads
 * the engine from the Kysely instance with no query, with every connection's errors going to `onError`
 * instead of crashing the process, and its notifications to a hub the lock waiters find on the adapter.
 */
export function createPoolDialect(
  pool: TappablePool | (() => Promise<TappablePool>),
  engine: string,
  onError: (error: Error) => void = () => {},
): PostgresDialect {
  // Idle clients report through the pool; a checked-out client reports on itself, and Kysely does not
  // listen there, so every client gets its own listener for its whole life.
  // Notifications too: a waiter for the migration lock LISTENs on its own connection and sleeps until the
  // holder says something changed, instead of polling.
  const hub = new NotificationHub();
  const tap = (created: TappablePool): TappablePool => {
    created.on('error', onError);
    created.on('connect', (client: TappableClient) => {
      client.on('error', onError);
      client.on('notification', (message) => hub.dispatch(message.channel, message.payload));
    });
    return created;
  };
  // A pool made on the first query (the driver imported then) is tapped when it is made.
  const config = typeof pool === 'function' ? { pool: async () => tap(await pool()) } : { pool: tap(pool) };
  return new BrandedPostgresDialect(config, engine, hub);
}

/** PostgreSQL as mig reads it from the Kysely instance, with no query to tell it from PGlite, and the pool's notifications. */
class BrandedPostgresDialect extends PostgresDialect {
  readonly #engine: string;
  readonly #hub: NotificationHub;

  constructor(config: ConstructorParameters<typeof PostgresDialect>[0], engine: string, hub: NotificationHub) {
    super(config);
    this.#engine = engine;
    this.#hub = hub;
  }

  override createAdapter() {
    return withNotifications(brandAdapter(super.createAdapter(), this.#engine), this.#hub);
  }
}
