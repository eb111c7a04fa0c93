// The entry of the bundled build (`pnpm --filter example-api bundle`): one file that runs from any folder, its
// migrations carried in it by the module `mig bundle` wrote from `migrations/` (PostgreSQL's SQL; the bundled
// build runs on DATABASE_URL, since PGlite needs its WebAssembly files beside it).
import migrations from './migrations.bundle.js';
import { runServer } from './run-server.js';

await runServer({ migrations });
