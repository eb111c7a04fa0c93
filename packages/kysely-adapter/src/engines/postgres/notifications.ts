import type { LockChange, StoreHead } from '@mig/core/adapter';
import type { DialectAdapter } from 'kysely';
import type { MigrationDb } from '../../db.js';

/**
 * NOTIFY messages of every connection of one pool, to whoever subscribed to their channel. Kysely does not
 * surface notifications, so mig's own pg dialect (`createPgDialect`) taps its pool's clients and hangs the hub
 * on the dialect adapter, where a lock waiter finds it from the Kysely instance.
 */
export class NotificationHub {
  readonly #listeners = new Map<string, Set<(payload: string) => void>>();

  /** Calls `listener` with each payload on `channel` until the returned function is called. */
  subscribe(channel: string, listener: (payload: string) => void): () => void {
    let set = this.#listeners.get(channel);
    if (!set) {
      set = new Set();
      this.#listeners.set(channel, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(channel);
    };
  }

  dispatch(channel: string, payload: string | undefined): void {
    for (const listener of this.#listeners.get(channel) ?? []) listener(payload ?? '');
  }
}

const HUB: unique symbol = Symbol.for('@mig/kysely-adapter.notifications') as never;

/** Hangs `hub` on a dialect adapter (see {@link notificationsOf}). */
export function withNotifications<A extends DialectAdapter>(adapter: A, hub: NotificationHub): A {
  Object.defineProperty(adapter, HUB, { value: hub, enumerable: false });
  return adapter;
}

/** The notification hub of a Kysely instance made with mig's pg dialect; undefined for any other. */
export function notificationsOf(db: MigrationDb): NotificationHub | undefined {
  try {
    const hub = (db.getExecutor().adapter as { [HUB]?: unknown })[HUB];
    return hub instanceof NotificationHub ? hub : undefined;
  } catch {
    return undefined;
  }
}

/** A notice's payload: "applied:<count>:<digest>", "released:<count>:<digest>", or "released" alone. */
export function headNotice(kind: 'applied' | 'released', head?: StoreHead): string {
  return head === undefined ? kind : `${kind}:${head.count}:${head.digest}`;
}

/** The change a notice's payload tells of (see {@link headNotice}); anything else reads as a release. */
export function readHeadNotice(payload: string): LockChange {
  const match = /^(applied|released)(?::(\d+):(.+))?$/.exec(payload);
  const head = match?.[2] !== undefined ? { count: Number(match[2]), digest: match[3] as string } : undefined;
  if (match?.[1] === 'applied' && head) return { kind: 'applied', head };
  return { kind: 'released', head };
}
