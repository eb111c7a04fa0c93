import { OLD_CODE_RULES } from '../../lint/rules.js';
import type { LintRule } from '../../lint/types.js';
import { Tokens, tokenize } from './lint-tokens.js';

// The rules for MySQL and MariaDB (InnoDB), over each statement's clauses as the server's grammar has them.
// InnoDB picks an ALTER TABLE's algorithm by itself and, where it cannot do a change in place, copies the
// whole table while it blocks writes, saying nothing. Naming the algorithm makes the server refuse instead:
// the rules ask for it. Nothing done to a table the same migration created is a finding.

export const MYSQL_RULES = {
  algorithmInstant: {
    id: 'algorithm-instant',
    reason:
      'ALTER TABLE without ALGORITHM lets the server copy the whole table, blocking writes, where it cannot do the change at once',
    fix: 'add ALGORITHM=INSTANT (MySQL 8.0.12+, MariaDB 10.3+; dropping or renaming a column: MySQL 8.0.29+, MariaDB 10.4+): the server then does it at once or refuses it, and you choose ALGORITHM=INPLACE, LOCK=NONE knowingly',
  },
  algorithmInplace: {
    id: 'algorithm-inplace',
    reason:
      'ALTER TABLE or CREATE/DROP INDEX without ALGORITHM lets the server copy the whole table, blocking writes, where it cannot work in place',
    fix: 'add ALGORITHM=INPLACE, LOCK=NONE (in CREATE/DROP INDEX: ALGORITHM=INPLACE LOCK=NONE, no comma): the server then keeps the table writable or refuses the change',
  },
  algorithmCopy: {
    id: 'algorithm-copy',
    reason: 'ALGORITHM=COPY, or LOCK=SHARED or EXCLUSIVE, blocks every write to the table until the change is done',
    fix: 'do the change with ALGORITHM=INSTANT or ALGORITHM=INPLACE, LOCK=NONE, or in steps that allow it (a new column, a backfill, a switch)',
  },
  foreignKeyCopy: {
    id: 'foreign-key-copy',
    reason: 'ADD FOREIGN KEY copies the whole table, blocking writes, while foreign_key_checks is on',
    fix: 'check the existing rows yourself, then SET foreign_key_checks = 0 before the ALTER TABLE … ADD FOREIGN KEY …, ALGORITHM=INPLACE, LOCK=NONE (and = 1 after)',
  },
  ...OLD_CODE_RULES,
  lockTable: {
    id: 'lock-table',
    reason: 'LOCK TABLES makes every query on the tables wait until the migration unlocks them',
    fix: 'take no explicit lock: do the change in steps that need only short locks',
  },
} as const satisfies Record<string, LintRule>;

export type MysqlRuleKey = keyof typeof MYSQL_RULES;

/** What the migration has done so far, for the rules that depend on it. */
export interface MysqlScope {
  /** Tables created by earlier statements of this migration (lowercase, unqualified). */
  readonly createdTables: Set<string>;
  /** `SET foreign_key_checks = 0` ran earlier in this migration (and was not turned back on). */
  foreignKeyChecksOff: boolean;
}

export function newMysqlScope(): MysqlScope {
  return { createdTables: new Set(), foreignKeyChecksOff: false };
}

/** The rules one statement breaks (before acceptance), and what it adds to the scope. */
export function checkMysqlStatement(statement: string, scope: MysqlScope): MysqlRuleKey[] {
  const t = new Tokens(tokenize(statement));
  if (t.word('CREATE')) return create(t, scope);
  if (t.word('ALTER')) {
    const online = t.word('ONLINE') !== undefined; // MariaDB: ALTER ONLINE TABLE is LOCK=NONE
    t.word('IGNORE');
    if (!t.word('TABLE')) return [];
    t.words('IF', 'EXISTS');
    const table = t.name();
    if (table === undefined || scope.createdTables.has(table)) return [];
    return alterTable(t.clauses(), scope, online);
  }
  if (t.word('DROP')) {
    t.word('ONLINE', 'OFFLINE');
    if (!t.word('INDEX', 'KEY')) return [];
    t.words('IF', 'EXISTS');
    t.name();
    if (!t.word('ON')) return [];
    const table = t.name();
    return table === undefined || scope.createdTables.has(table) ? [] : indexOptions(t);
  }
  if (t.word('RENAME')) {
    if (!t.word('TABLE', 'TABLES')) return [];
    const renamed = t.clauses().map((c) => c.name());
    return renamed.every((name) => name !== undefined && scope.createdTables.has(name)) ? [] : ['renameTable'];
  }
  if (t.word('LOCK')) {
    if (!t.word('TABLE', 'TABLES')) return [];
    const locked = t.clauses().map((c) => c.name());
    return locked.every((name) => name !== undefined && scope.createdTables.has(name)) ? [] : ['lockTable'];
  }
  if (t.word('SET')) {
    for (const clause of t.clauses()) {
      clause.word('SESSION', 'LOCAL');
      const [variable, value] = clause.restWords(); // = and := are punctuation
      if (variable === undefined || !/^(@@(SESSION\.|LOCAL\.)?)?FOREIGN_KEY_CHECKS$/.test(variable)) continue;
      if (value !== undefined) scope.foreignKeyChecksOff = value === '0' || value === 'OFF' || value === 'FALSE';
    }
  }
  return [];
}

function create(t: Tokens, scope: MysqlScope): MysqlRuleKey[] {
  t.words('OR', 'REPLACE');
  t.word('TEMPORARY');
  if (t.word('TABLE')) {
    t.words('IF', 'NOT', 'EXISTS');
    const table = t.name();
    if (table !== undefined) scope.createdTables.add(table);
    return [];
  }
  t.word('ONLINE', 'OFFLINE');
  t.word('UNIQUE', 'FULLTEXT', 'SPATIAL');
  if (!t.word('INDEX')) return [];
  t.words('IF', 'NOT', 'EXISTS');
  t.name();
  // USING BTREE may come before ON.
  while (!t.done && !t.word('ON')) t.next();
  const table = t.name();
  return table === undefined || scope.createdTables.has(table) ? [] : indexOptions(t);
}

/** CREATE INDEX / DROP INDEX: the ALGORITHM and LOCK options that follow the index's definition. */
function indexOptions(t: Tokens): MysqlRuleKey[] {
  const chosen = chosenOptions(t.restWords());
  if (chosen.copy) return ['algorithmCopy'];
  return chosen.algorithm ? [] : ['algorithmInplace'];
}

/** What ALGORITHM and LOCK a list of words asks for. */
function chosenOptions(words: readonly string[]): { algorithm: boolean; copy: boolean } {
  let algorithm = false;
  let copy = false;
  for (let k = 0; k < words.length; k++) {
    const word = words[k];
    if (word !== 'ALGORITHM' && word !== 'LOCK') continue;
    const value = words[k + 1];
    if (word === 'ALGORITHM' && value !== undefined && value !== 'DEFAULT') {
      algorithm = true;
      if (value === 'COPY') copy = true;
    }
    if (word === 'LOCK' && (value === 'SHARED' || value === 'EXCLUSIVE')) copy = true;
  }
  return { algorithm, copy };
}

/** How much an ALTER TABLE clause needs of InnoDB at best. */
type Need = 'instant' | 'inplace';

function alterTable(clauses: readonly Tokens[], scope: MysqlScope, online: boolean): MysqlRuleKey[] {
  const found = new Set<MysqlRuleKey>();
  const options: string[] = [];
  let need: Need | undefined;
  const needs = (n: Need) => {
    need = need === 'inplace' || n === 'inplace' ? 'inplace' : 'instant';
  };
  for (const c of clauses) {
    const first = c.peek()?.text;
    if (first === 'ALGORITHM' || first === 'LOCK') {
      options.push(...c.restWords());
      continue;
    }
    if (c.word('ADD')) {
      const kind = c.word('INDEX', 'KEY', 'UNIQUE', 'FULLTEXT', 'SPATIAL', 'PRIMARY', 'CONSTRAINT', 'FOREIGN', 'CHECK');
      if (kind === undefined) {
        const rest = new Set(c.restWords());
        // An AUTO_INCREMENT or STORED generated column fills every row: never instant.
        needs(rest.has('AUTO_INCREMENT') || rest.has('STORED') || rest.has('PERSISTENT') ? 'inplace' : 'instant');
        continue;
      }
      const rest = new Set([kind, ...c.restWords()]);
      if (rest.has('FOREIGN') && !scope.foreignKeyChecksOff) found.add('foreignKeyCopy');
      needs('inplace');
      continue;
    }
    if (c.word('DROP')) {
      if (c.word('INDEX', 'KEY', 'PRIMARY', 'FOREIGN', 'CONSTRAINT', 'CHECK', 'PARTITION')) {
        needs('inplace');
        continue;
      }
      c.word('COLUMN');
      found.add('dropColumn');
      needs('instant');
      continue;
    }
    if (c.word('RENAME')) {
      if (c.word('COLUMN')) {
        found.add('renameColumn');
        needs('instant');
      } else if (c.word('INDEX', 'KEY')) {
        needs('instant');
      } else {
        found.add('renameTable');
      }
      continue;
    }
    if (c.word('CHANGE')) {
      c.word('COLUMN');
      c.words('IF', 'EXISTS');
      const from = c.name();
      const to = c.name();
      if (from !== undefined && to !== undefined && from !== to) found.add('renameColumn');
      needs('inplace');
      continue;
    }
    if (c.word('ALTER')) {
      c.word('COLUMN');
      c.name();
      // SET DEFAULT / DROP DEFAULT change metadata only; ALTER INDEX … VISIBLE too.
      needs(c.word('SET', 'DROP') ? 'instant' : 'inplace');
      continue;
    }
    // MODIFY, CONVERT TO CHARACTER SET, ENGINE=, FORCE, ORDER BY, partitioning, table options.
    needs('inplace');
  }
  const chosen = chosenOptions(options);
  if (chosen.copy) found.add('algorithmCopy');
  else if (!chosen.algorithm && !online && need !== undefined) {
    found.add(need === 'instant' ? 'algorithmInstant' : 'algorithmInplace');
  }
  return [...found];
}
