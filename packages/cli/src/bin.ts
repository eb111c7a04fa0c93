#!/usr/bin/env node
import { main } from './main.js';
import { listenForShutdown } from './shutdown.js';

// `mig status | head`: a reader that stops early is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const shutdown = listenForShutdown((line) => process.stderr.write(`${line}\n`));
process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  stdin: process.stdin,
  shutdown,
});
shutdown.dispose();
// A migration stopped while it awaited something that never settles is left behind with its session ended;
// what it still holds (a timer, a socket of its own) must not keep the finished command alive.
setTimeout(() => process.exit(), 2_000).unref();
