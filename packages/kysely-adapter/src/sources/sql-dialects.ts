import type { ParsedSqlMigration } from './sql-file.js';

// How other tools mark the parts of a SQL migration file: goose's and dbmate's annotations. Each reader
// returns the same shape as mig's own `-- mig:down`, so the rest of the source treats them alike.

const GOOSE = /^--\s*\+goose\s+(up|down|no\s+transaction|statementbegin|statementend|envsub\s+on|envsub\s+off)\b.*$/gim;

/**
 * goose: `-- +goose Up` starts the up part and `-- +goose Down` the down part; `-- +goose NO TRANSACTION`
 * runs the file outside a transaction. `StatementBegin`/`StatementEnd` lines stay as comments: mig's
 * splitter reads the bodies they fence (dollar quotes, BEGIN … END) on its own. Text before the Up line is
 * not run, as goose does not run it.
 */
export function parseGoose(source: string): ParsedSqlMigration & { readonly problem?: string } {
  const text = source.replace(/^\uFEFF/, '');
  let up: number | undefined;
  let down: number | undefined;
  let upEnd: number | undefined;
  let transactional = true;
  for (const match of text.matchAll(GOOSE)) {
    const what = (match[1] ?? '').toLowerCase().replace(/\s+/g, ' ');
    const end = match.index + match[0].length;
    if (what === 'up' && up === undefined) up = end;
    else if (what === 'down' && down === undefined) {
      down = end;
      upEnd = match.index;
    } else if (what === 'no transaction') transactional = false;
  }
  if (up === undefined) {
    return {
      up: '',
      down: undefined,
      transactional,
      own: false,
      problem: 'has no "-- +goose Up" line, which goose requires: add it above the statements to run',
    };
  }
  if (down !== undefined && upEnd !== undefined && upEnd < up) {
    return {
      up: '',
      down: undefined,
      transactional,
      own: false,
      problem: 'has its "-- +goose Down" part before its "-- +goose Up" part: put the Up part first',
    };
  }
  return {
    up: text.slice(up, upEnd ?? text.length),
    down: down === undefined ? undefined : text.slice(down),
    transactional,
    own: false,
  };
}

const DBMATE = /^--\s*migrate:(up|down)\b(.*)$/gim;

/**
 * dbmate: `-- migrate:up` and `-- migrate:down`, each optionally with `transaction:false`. mig runs a
 * migration and its down the same way, so `transaction:false` on the up line decides for both.
 */
export function parseDbmate(source: string): ParsedSqlMigration & { readonly problem?: string } {
  const text = source.replace(/^\uFEFF/, '');
  let up: { start: number; end: number; options: string } | undefined;
  let down: { start: number; end: number; options: string } | undefined;
  for (const match of text.matchAll(DBMATE)) {
    const part = { start: match.index, end: match.index + match[0].length, options: match[2] ?? '' };
    if ((match[1] ?? '').toLowerCase() === 'up') up ??= part;
    else down ??= part;
  }
  if (up === undefined) {
    return {
      up: '',
      down: undefined,
      transactional: true,
      own: false,
      problem: 'has no "-- migrate:up" line, which dbmate requires: add it above the statements to run',
    };
  }
  if (down !== undefined && down.start < up.start) {
    return {
      up: '',
      down: undefined,
      transactional: true,
      own: false,
      problem: 'has its "-- migrate:down" part before its "-- migrate:up" part: put the up part first',
    };
  }
  const transactional = !/\btransaction\s*:\s*false\b/i.test(up.options);
  return {
    up: text.slice(up.end, down?.start ?? text.length),
    down: down === undefined ? undefined : text.slice(down.end),
    transactional,
    own: false,
  };
}

/** True when `text` holds goose's annotations. */
export function hasGooseMarkers(text: string): boolean {
  return /^--\s*\+goose\s+up\b/im.test(text);
}

/** True when `text` holds dbmate's annotations. */
export function hasDbmateMarkers(text: string): boolean {
  return /^--\s*migrate:up\b/im.test(text);
}
