import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled child scripts, next to this module in dist/child. */
export function childScript(
  name:
    | 'cold-start-pg'
    | 'cold-start-kysely'
    | 'cold-start-service'
    | 'cold-start-migrator'
    | 'status-kysely'
    | 'race-instance'
    | 'race-kysely'
    | 'race-engine'
    | 'fast-path'
    | 'tenants-service',
): string {
  return fileURLToPath(new URL(`./child/${name}.js`, import.meta.url));
}

/** One JSON line a child printed, and when the parent read it (`performance.now()`). */
export interface ChildMessage {
  readonly at: number;
  readonly data: Record<string, unknown>;
}

export interface Child {
  readonly process: ChildProcess;
  /** `performance.now()` right before `spawn()`. */
  readonly spawnedAt: number;
  /** Resolves with the first message whose `event` is `event`; rejects if the child exits first. */
  message(event: string, timeoutMs?: number): Promise<ChildMessage>;
  /** Writes a line to the child's stdin and closes it (the start signal of a race). */
  send(line: string): void;
  /** Resolves when the child exits; rejects when it exits with an error, with its stderr. */
  readonly exited: Promise<void>;
}

/**
 * Starts `node <script> ...args`. Children speak JSON lines on stdout (`{"event": …}`) and are killed if
 * they outlive `timeoutMs`, so a hung child cannot hang the bench.
 */
export function startChild(script: string, args: readonly string[], timeoutMs = 180_000): Child {
  const spawnedAt = performance.now();
  const child = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const messages: ChildMessage[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let buffered = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const at = performance.now();
    buffered += chunk;
    let newline = buffered.indexOf('\n');
    while (newline >= 0) {
      const line = buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('{')) {
        try {
          messages.push({ at, data: JSON.parse(line) as Record<string, unknown> });
        } catch {
          // Not one of ours: a stray log line that happens to start with a brace.
        }
      }
      newline = buffered.indexOf('\n');
    }
    for (const w of waiters) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  // A child that exits before reading the start signal must not raise EPIPE in the parent.
  child.stdin?.on('error', () => {});
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exited = new Promise<void>((resolve, reject) => {
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      exit = { code, signal };
      for (const w of waiters) w();
      if (code === 0) resolve();
      else reject(new Error(`${script} exited with ${signal ?? `code ${code}`}:\n${stderr.trim().slice(-2000)}`));
    });
  });
  // The caller may only await messages; the exit failure then surfaces through message().
  exited.catch(() => {});
  return {
    process: child,
    spawnedAt,
    exited,
    send(line) {
      child.stdin?.end(`${line}\n`);
    },
    message(event, waitMs = timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = messages.find((m) => m.data.event === event);
          if (found) {
            done();
            resolve(found);
          } else if (exit) {
            done();
            reject(
              new Error(
                `${script} exited (${exit.signal ?? `code ${exit.code}`}) before "${event}":\n${stderr.trim().slice(-2000)}`,
              ),
            );
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${script} sent no "${event}" within ${waitMs} ms:\n${stderr.trim().slice(-2000)}`));
        }, waitMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** What a race of children reported, timed from the start line (and from the first spawn). */
export interface Released<R> {
  /** Wall-clock ms of the start line. */
  readonly goAt: number;
  /** From the start line until the last child was ready. */
  readonly wallMs: number;
  /** From the first spawn until the last child was ready. */
  readonly spawnToReadyMs: number;
  /** Each child's `ready` message. */
  readonly instances: R[];
}

/**
 * Waits until every child of a race says "armed", starts them all at one instant, and collects their
 * `ready` messages (each with its wall-clock `readyAt`) once they have all exited.
 */
export async function releaseRace<R extends { readonly readyAt: number }>(
  children: readonly Child[],
  armedTimeoutMs = 120_000,
): Promise<Released<R>> {
  await Promise.all(children.map((c) => c.message('armed', armedTimeoutMs)));
  const goAt = performance.timeOrigin + performance.now();
  for (const c of children) c.send('go');
  const ready = await Promise.all(children.map((c) => c.message('ready', 180_000)));
  await Promise.all(children.map((c) => c.exited));
  const instances = ready.map((m) => m.data as unknown as R);
  const lastReady = Math.max(...instances.map((i) => i.readyAt));
  const firstSpawn = Math.min(...children.map((c) => c.spawnedAt)) + performance.timeOrigin;
  return { goAt, wallMs: lastReady - goAt, spawnToReadyMs: lastReady - firstSpawn, instances };
}
