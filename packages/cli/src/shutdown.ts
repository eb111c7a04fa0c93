import { writeSync } from 'node:fs';
import { constants } from 'node:os';
import { DEFAULT_STOP_GRACE_MS } from '@mig/core/adapter';

/**
 * How the `mig` process is stopped: the first SIGINT (Ctrl-C) or SIGTERM stops the command (no new migration
 * starts, a wait for the lock ends), and after a grace period the running migration too (its session ended,
 * rolled back where the engine can); the lock is let go, the run says what was and was not applied, and the
 * process exits with the signal's conventional code (130, 143). A second signal exits at once.
 */
export interface Shutdown {
  /**
   * Takes SIGINT and SIGTERM over for as long as a command holds them (while it may hold the lock): until the
   * returned function is called, a signal stops the command as described above instead of ending the process.
   */
  hold(): () => void;
  /** Aborted at the first signal. */
  readonly stop: AbortSignal;
  /** Aborted when the running migration must stop too: the grace period after the first signal ran out. */
  readonly interrupt: AbortSignal;
  /** The signal that stopped the command, if one did. */
  received(): NodeJS.Signals | undefined;
  /**
   * While a migration runs, the process ending under it (`process.exit()` in the migration, an uncaught
   * error in one of its timers) is said, naming it, and never ends with code 0. Returns the guard's end.
   */
  guardExit(running: () => string | undefined): () => void;
  /** The exit code for a command that ended with `code`: the signal's, when a signal stopped it. */
  exitCode(code: number): number;
  /** Removes the signal listeners, if a command still holds them. */
  dispose(): void;
}

/** The conventional exit code of a process ended by `signal`: 128 + its number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** Listens for SIGINT and SIGTERM for one `mig` command; `write` says what happens (stderr). */
export function listenForShutdown(write: (line: string) => void, graceMs = DEFAULT_STOP_GRACE_MS): Shutdown {
  const stop = new AbortController();
  const interrupt = new AbortController();
  let received: NodeJS.Signals | undefined;
  let grace: NodeJS.Timeout | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (received !== undefined) {
      write(`${signal} again: exiting now; the database rolls back what was running.`);
      process.exit(signalExitCode(signal));
    }
    received = signal;
    write(
      `${signal}: stopping. No new migration starts; the one running gets ${Math.round(graceMs / 1000)} s to finish, ` +
        'then it is stopped and rolled back where the engine can. The lock is let go. Again to exit at once.',
    );
    stop.abort(new Error(`stopped by ${signal}`));
    grace = setTimeout(() => interrupt.abort(new Error(`stopped by ${signal}`)), graceMs);
    grace.unref();
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM'];
  let holders = 0;
  const release = () => {
    holders = Math.max(0, holders - 1);
    // Once a signal came, the listeners stay: a second one still exits at once while the command ends.
    if (holders === 0 && received === undefined) for (const signal of signals) process.off(signal, onSignal);
  };
  return {
    hold() {
      if (holders === 0) for (const signal of signals) process.on(signal, onSignal);
      holders += 1;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        release();
      };
    },
    stop: stop.signal,
    interrupt: interrupt.signal,
    received: () => received,
    guardExit(running) {
      const onExit = (code: number) => {
        const name = running();
        if (name === undefined) return;
        // Synchronous: nothing asynchronous runs any more once the process is exiting.
        writeSync(
          2,
          `error: the process ended while migration "${name}" was running (process.exit() or an uncaught error in it); ` +
            'it was not recorded, and its transaction ends with the connection. The next run applies it again.\n',
        );
        if (code === 0) process.exitCode = 1;
      };
      process.on('exit', onExit);
      return () => process.off('exit', onExit);
    },
    exitCode: (code) => (received === undefined ? code : signalExitCode(received)),
    dispose() {
      for (const signal of signals) process.off(signal, onSignal);
      if (grace) clearTimeout(grace);
    },
  };
}
