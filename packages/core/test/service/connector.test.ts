import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { describe, expect, it } from 'vitest';
import { MigErrorCode } from '../../src/errors.js';
import type { Logger } from '../../src/ports.js';
import { CONNECT_BACKOFF, Connector, type ConnectorOptions } from '../../src/service/connector.js';
import { FakeClock } from '../support/fake-clock.js';

/** "too many clients": passes by itself. */
class Busy extends Error {
  override name = 'Busy';
}
/** Bad password: does not. */
class Refused extends Error {
  override name = 'Refused';
}

function recordingLogger() {
  const warnings: string[] = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn: (_, message) => warnings.push(message ?? '') };
  return { logger, warnings };
}

/**
 * A connector on a fake clock (pauses take no real time), without jitter, whose `connect` answers each
 * attempt with the next outcome: an error thrown, or a connection.
 */
function setUp(outcomes: readonly (Error | string)[], options: Partial<ConnectorOptions<string>> = {}) {
  const clock = new FakeClock();
  const exporter = new InMemorySpanExporter();
  const tracer = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).getTracer('test');
  const { logger, warnings } = recordingLogger();
  const stop = new AbortController();
  const signals: AbortSignal[] = [];
  const startedAt: number[] = [];
  const connector = new Connector<string>({
    connect: async (signal) => {
      signals.push(signal);
      startedAt.push(clock.now());
      const outcome = outcomes[signals.length - 1] ?? 'conn';
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    attempts: 3,
    timeoutMs: 10_000,
    budgetMs: 60_000,
    isTransient: (error) => error instanceof Busy,
    stop: stop.signal,
    target: 'postgresql db:5432/app',
    clock,
    logger,
    tracer,
    backoff: { ...CONNECT_BACKOFF, random: () => 0 },
    ...options,
  });
  const events = () =>
    exporter
      .getFinishedSpans()
      .flatMap((span) => span.events.map((e): Record<string, unknown> => ({ name: e.name, ...e.attributes })));
  return { connector, clock, warnings, stop, signals, startedAt, exporter, events };
}

describe('Connector', () => {
  it('connects at the first attempt without a pause, in one mig.connect span', async () => {
    const { connector, clock, warnings, exporter } = setUp(['conn-1']);
    await expect(connector.connect()).resolves.toBe('conn-1');
    expect(clock.sleeps).toEqual([]);
    expect(warnings).toEqual([]);
    expect(exporter.getFinishedSpans().map((s) => [s.name, s.status.code, s.events.length])).toEqual([
      ['mig.connect', 0, 0],
    ]);
  });

  it('retries transient failures without using up an attempt, pausing with backoff', async () => {
    const busy = new Busy('sorry, too many clients already');
    // Five transient failures with 3 attempts allowed: a count of every failure would have given up.
    const { connector, clock, warnings, signals, events } = setUp([busy, busy, busy, busy, busy, 'conn']);
    await expect(connector.connect()).resolves.toBe('conn');
    expect(signals).toHaveLength(6);
    expect(clock.sleeps).toEqual([200, 400, 800, 1_600, 3_200]);
    expect(warnings).toEqual(
      [1, 2, 3, 4, 5].map((n) => `connecting to postgresql db:5432/app failed for now (attempt ${n}); retrying`),
    );
    expect(events()[0]).toEqual({ name: 'mig.connect.failed', attempt: 1, transient: true, 'error.type': 'Busy' });
  });

  it('gives up after `attempts` failures that are not transient, with a ConnectionError', async () => {
    const refused = new Refused('password authentication failed');
    const { connector, clock, warnings, signals, exporter } = setUp([refused, refused, refused, 'never']);
    const error = await connector.connect().catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: MigErrorCode.ConnectFailed,
      name: 'ConnectionError',
      attempts: 3,
      cause: refused,
      context: { target: 'postgresql db:5432/app', attempts: 3, elapsedMs: 600 },
    });
    expect(signals).toHaveLength(3);
    expect(clock.sleeps).toEqual([200, 400]);
    expect(warnings).toEqual([1, 2, 3].map((n) => `connecting to postgresql db:5432/app failed (attempt ${n} of 3)`));
    const [span] = exporter.getFinishedSpans();
    expect([span?.status.code, span?.attributes['error.type']]).toEqual([2, 'CONNECT_FAILED']);
  });

  it('counts only the failures that are not transient', async () => {
    const busy = new Busy('too many clients');
    const refused = new Refused('refused');
    const { connector, signals, events } = setUp([busy, refused, busy, busy, refused, 'never'], { attempts: 2 });
    await expect(connector.connect()).rejects.toMatchObject({ code: MigErrorCode.ConnectFailed, attempts: 5 });
    expect(signals).toHaveLength(5);
    expect(events().map((e) => e.transient)).toEqual([true, false, true, true, false]);
  });

  it('makes at least one attempt', async () => {
    const { connector, signals } = setUp([new Refused('no')], { attempts: 0 });
    await expect(connector.connect()).rejects.toMatchObject({ code: MigErrorCode.ConnectFailed, attempts: 1 });
    expect(signals).toHaveLength(1);
  });

  it('ends within the budget: transient failures stop when it is spent, the last pause cut to what is left', async () => {
    const busy = new Busy('too many clients');
    const { connector, clock, startedAt } = setUp(Array(20).fill(busy), { budgetMs: 1_000 });
    await expect(connector.connect()).rejects.toMatchObject({
      code: MigErrorCode.ConnectFailed,
      attempts: 4,
      context: { elapsedMs: 1_000 },
    });
    expect(clock.sleeps).toEqual([200, 400, 400]);
    expect(startedAt).toEqual([0, 200, 600, 1_000]);
  });

  it('bounds each attempt by its timeout even when connect ignores its signal', async () => {
    const clock = new FakeClock();
    const { logger } = recordingLogger();
    const connector = new Connector<string>({
      connect: () => new Promise<string>(() => {}),
      attempts: 1,
      timeoutMs: 5,
      budgetMs: 5,
      stop: new AbortController().signal,
      target: 'the database',
      clock,
      logger,
      tracer: new BasicTracerProvider().getTracer('test'),
    });
    await expect(connector.connect()).rejects.toMatchObject({
      code: MigErrorCode.ConnectFailed,
      message: expect.stringContaining('no connection within the connect timeout of 5 ms'),
    });
  });

  it('does not start when already stopped', async () => {
    const { connector, stop, signals } = setUp(['conn']);
    stop.abort(new Error('closed'));
    await expect(connector.connect()).rejects.toThrow('closed');
    expect(signals).toEqual([]);
  });

  it('stops in the pause between attempts when stopped, starting no other', async () => {
    const stop = new AbortController();
    const clock = new FakeClock();
    let calls = 0;
    const connector = new Connector<string>({
      connect: async () => {
        calls++;
        stop.abort(new Error('closed')); // close() while this attempt fails
        throw new Busy('too many clients');
      },
      attempts: 3,
      timeoutMs: 10_000,
      budgetMs: 60_000,
      isTransient: () => true,
      stop: stop.signal,
      target: 'the database',
      clock,
      logger: recordingLogger().logger,
      tracer: new BasicTracerProvider().getTracer('test'),
    });
    await expect(connector.connect()).rejects.toMatchObject({ code: MigErrorCode.Aborted });
    expect(calls).toBe(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('ends an attempt in flight at once when stopped, aborting the signal connect was given', async () => {
    const stop = new AbortController();
    const given: AbortSignal[] = [];
    const connector = new Connector<string>({
      connect: (signal) => {
        given.push(signal);
        return new Promise<string>(() => {});
      },
      attempts: 3,
      timeoutMs: 60_000,
      budgetMs: 60_000,
      stop: stop.signal,
      target: 'the database',
      clock: new FakeClock(),
      logger: recordingLogger().logger,
      tracer: new BasicTracerProvider().getTracer('test'),
    });
    const connecting = connector.connect();
    await Promise.resolve();
    stop.abort(new Error('closed'));
    await expect(connecting).rejects.toMatchObject({ code: MigErrorCode.Aborted });
    expect(given).toHaveLength(1);
    expect(given[0]?.aborted).toBe(true);
  });
});
