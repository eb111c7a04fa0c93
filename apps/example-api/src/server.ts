// Runs the example API: `pnpm start` (root) or `node dist/server.js`, its migrations read from the folder.
import { runServer } from './run-server.js';

await runServer();
