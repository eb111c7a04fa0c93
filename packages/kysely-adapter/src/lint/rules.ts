import type { LintRule } from './types.js';

/**
 * The rules every engine's linter has, worded once: changes that break the instances still running the old
 * code, whatever the engine does to the table meanwhile.
 */
export const OLD_CODE_RULES = {
  renameColumn: {
    id: 'rename-column',
    reason: 'renaming a column breaks the instances still running the old code, which use the old name',
    fix: 'add the new column, write both, backfill, move reads, and drop the old column once no running code uses it',
  },
  renameTable: {
    id: 'rename-table',
    reason: 'renaming a table breaks the instances still running the old code, which use the old name',
    fix: 'create the new table (or a view under the old name), move the code to it, then drop the old one in a later release',
  },
  dropColumn: {
    id: 'drop-column',
    reason: 'dropping a column breaks the instances still running the old code, which read or write it',
    fix: 'stop using the column in a release first, then drop it in a later one',
  },
} as const satisfies Record<string, LintRule>;
