import { randomUUID } from 'node:crypto';
import { InvalidOptionError, LockLostError, type Logger, type MigrationLock } from '@mig/core';
import {
  type BackoffOptions,
  type Clock,
  DEFAULT_LEASE_TTL_MS,
  describeThrown,
  type LeasePrimitive,
  type LockAcquireOptions,
  type LockLease,
  lockLost,
  silentLogger,
  systemClock,
} from '@mig/core/adapter';
import { processOwner } from './owner.js';
import { pollForLock } from './poll.js';

export interface LeaseLockOptions {
  /** How long a lease lasts without renewal; a crashed holder's lease is taken over after this. Default 30 s. */
  readonly ttlMs?: number | undefined;
  /** How often the holder renews. Default a third of the TTL. */
  readonly renewEveryMs?: number | undefined;
  /**
   * Identifies this process in the lock row (a random part is added per acquisition). Default `host:pid@pidns`
   * (see `processOwner`): with it, a holder that died on this host is taken over at once (`deadOwnerPid`).
   */
  readonly owner?: string | undefined;
  readonly backoff?: BackoffOptions | undefined;
  readonly clock?: Clock | undefined;
  readonly logger?: Logger | undefined;
}

/**
 * A lease lock: a row with an owner, a token and an expiry, taken when free or expired, renewed by a
 * heartbeat, given up on release. It keeps no session state, so it works through PgBouncer in transaction
 * mode. Each grant gets a larger token (the fence): the store checks it in every migration's transaction,
 * so a holder whose lease lapsed cannot record a migration.
 */
export function createLeaseLock<F>(primitive: LeasePrimitive<F>, options: LeaseLockOptions = {}): MigrationLock<F> {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
  const renewEveryMs = options.renewEveryMs ?? Math.max(50, Math.floor(ttlMs / 3));
  if (!(ttlMs > 0) || !(renewEveryMs > 0) || renewEveryMs >= ttlMs) {
    throw new InvalidOptionError(
      'ttlMs',
      `Lease timing is invalid: ttlMs ${ttlMs} must be positive and above renewEveryMs ${renewEveryMs}.`,
      { context: { ttlMs, renewEveryMs } },
    );
  }
  const prefix = options.owner ?? processOwner();

  const settings: HeartbeatSettings<F> = { primitive, clock, logger, ttlMs, renewEveryMs };
  return {
    strategy: primitive.strategy,
    key: primitive.key,
    livesInStore: primitive.livesInStore,
    async acquire({ timeoutMs, signal, onWait, doneAtCount }: LockAcquireOptions): Promise<LockLease<F>> {
      const owner = `${prefix}:${randomUUID().slice(0, 8)}`;
      const started = clock.now();
      let sentAt = started;
      const attempt = () => {
        sentAt = clock.now();
        return primitive.tryAcquire(owner, ttlMs);
      };
      const { value: grant } = await pollForLock(attempt, {
        key: primitive.key,
        timeoutMs,
        signal,
        onWait,
        backoff: options.backoff,
        clock,
        doneAtCount,
      });
      // Counted from when the granting request was sent, so this side never trusts a lease the database dropped.
      const heartbeat = startHeartbeat(settings, owner, grant.token, sentAt + ttlMs);
      let released: Promise<void> | undefined;
      return {
        fence: grant.fence,
        waitedMs: clock.now() - started,
        lost: heartbeat.lost,
        release() {
          released ??= (async () => {
            heartbeat.stop();
            if (!heartbeat.lost.aborted) await primitive.release(owner, grant.token);
          })();
          return released;
        },
      };
    },
  };
}

interface HeartbeatSettings<F> {
  readonly primitive: LeasePrimitive<F>;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly ttlMs: number;
  readonly renewEveryMs: number;
}

/**
 * Renews a held lease every `renewEveryMs` in the background (an unref'd timer). `lost` aborts when the
 * lease is known to be gone: the database refused the renewal, or renewals failed until it expired.
 */
function startHeartbeat<F>(
  settings: HeartbeatSettings<F>,
  owner: string,
  token: string,
  initialValidUntil: number,
): { readonly lost: AbortSignal; stop(): void } {
  const { primitive, clock, logger, ttlMs, renewEveryMs } = settings;
  let validUntil = initialValidUntil;
  const lost = new AbortController();
  let cancel: (() => void) | undefined;
  let stopped = false;
  const beat = async () => {
    if (stopped) return;
    const sent = clock.now();
    try {
      const expiresAt = await primitive.renew(owner, token, ttlMs);
      if (expiresAt === null) {
        lost.abort(lockLost.leaseExpired(primitive.key, token));
        return;
      }
      validUntil = sent + ttlMs;
    } catch (error) {
      logger.warn({ lock: primitive.key, err: describeThrown(error) }, 'renewing the migration lease failed; retrying');
      if (clock.now() >= validUntil) {
        const why = `it could not be renewed before it expired (${describeThrown(error)})`;
        lost.abort(new LockLostError(primitive.key, why, 'expired'));
        return;
      }
    }
    if (!stopped) cancel = clock.schedule(renewEveryMs, () => void beat());
  };
  cancel = clock.schedule(renewEveryMs, () => void beat());
  return {
    lost: lost.signal,
    stop() {
      stopped = true;
      cancel?.();
    },
  };
}
