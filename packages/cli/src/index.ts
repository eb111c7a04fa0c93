export { ExitCode, exitCodeFor } from './exit-codes.js';
export { main } from './main.js';
export type { Io } from './output.js';
export { VERSION } from './version.js';
