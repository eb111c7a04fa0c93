import { type ChildProcess, spawn } from 'node:child_process';

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunningProcess {
  readonly child: ChildProcess;
  /** Resolves when the process exits (never rejects). */
  readonly done: Promise<ProcessResult>;
  /** Resolves with the first stdout line matching `pattern` (rejects if the process exits first). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<string>;
}

/** Starts `node script ...args` as a real process and collects its output. */
export function startNode(
  script: string,
  args: readonly string[] = [],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): RunningProcess {
  const child = spawn(process.execPath, [script, ...args], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const l of listeners) l();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  // Set before the listeners run, so a waitFor still waiting fails at once when the process has exited.
  let exited = false;
  const done = new Promise<ProcessResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      exited = true;
      for (const l of listeners) l();
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    done,
    waitFor(pattern, timeoutMs = 30_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const line = stdout.split('\n').find((l) => pattern.test(l));
          if (line !== undefined) {
            cleanup();
            resolve(line);
          } else if (exited) {
            cleanup();
            reject(new Error(`process exited before printing ${pattern}:\n${stdout}\n${stderr}`));
          }
        };
        const t = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern}:\n${stdout}\n${stderr}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(t);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** Runs `node script ...args` to completion. */
export function runNode(
  script: string,
  args: readonly string[] = [],
  options: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ProcessResult> {
  return startNode(script, args, options).done;
}

/** The JSON document a child printed as its last line of stdout (its outcome); a clear error when there is none. */
export function lastJsonLine<T>(result: ProcessResult): T {
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as T;
  } catch {
    throw new Error(
      `instance printed no outcome (exit ${result.code}, signal ${result.signal}):\n${result.stdout}\n${result.stderr}`,
    );
  }
}
