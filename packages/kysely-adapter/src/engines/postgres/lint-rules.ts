import { OLD_CODE_RULES } from '../../lint/rules.js';
import type { LintRule } from '../../lint/types.js';

// The rules, over the parse tree of the real PostgreSQL parser (libpg-query's JSON). Each says what a
// statement does to a table that exists and serves traffic; nothing done to a table the same migration
// created is a finding (it is empty, and nobody else sees it before the migration commits).

type Node = Record<string, unknown>;

export const POSTGRES_RULES = {
  indexNotConcurrent: {
    id: 'index-not-concurrent',
    reason: 'CREATE INDEX or DROP INDEX without CONCURRENTLY blocks every write to the table while it runs',
    fix: 'use CREATE INDEX CONCURRENTLY (or DROP INDEX CONCURRENTLY) in a migration of its own marked -- mig:no-transaction',
  },
  notNullWithoutDefault: {
    id: 'add-column-not-null-without-default',
    reason: 'ADD COLUMN … NOT NULL without a default fails on a table that has rows',
    fix: 'add the column with a constant default, or add it nullable, backfill, then SET NOT NULL behind a validated CHECK',
  },
  volatileDefault: {
    id: 'volatile-default',
    reason:
      'a volatile default (random(), gen_random_uuid(), clock_timestamp(), a serial, …) rewrites the whole table under an ACCESS EXCLUSIVE lock',
    fix: 'add the column without a default (or with a constant one), set the default afterwards, and backfill existing rows in batches',
  },
  columnType: {
    id: 'alter-column-type',
    reason: 'ALTER COLUMN … TYPE rewrites the table (and its indexes) under an ACCESS EXCLUSIVE lock',
    fix: 'add a new column of the new type, write both from the application, backfill in batches, then switch reads and drop the old one',
  },
  constraintNotValid: {
    id: 'constraint-not-valid',
    reason: 'ADD FOREIGN KEY or CHECK without NOT VALID scans the whole table while it holds a lock that blocks writes',
    fix: 'ADD CONSTRAINT … NOT VALID, then VALIDATE CONSTRAINT in a later migration (it takes a lock that lets writes through)',
  },
  setNotNull: {
    id: 'set-not-null',
    reason:
      'SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, unless a validated CHECK (col IS NOT NULL) proves it',
    fix: 'ADD CONSTRAINT c CHECK (col IS NOT NULL) NOT VALID; VALIDATE CONSTRAINT c (later); then SET NOT NULL and drop the check',
  },
  uniqueUnderLock: {
    id: 'unique-under-lock',
    reason: 'ADD UNIQUE or PRIMARY KEY builds its index under a lock that blocks every write to the table',
    fix: 'CREATE UNIQUE INDEX CONCURRENTLY first (a -- mig:no-transaction migration), then ADD CONSTRAINT … USING INDEX',
  },
  ...OLD_CODE_RULES,
  vacuumFull: {
    id: 'vacuum-full',
    reason: 'VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock',
    fix: 'run a plain VACUUM, or rebuild the table online (pg_repack) outside the migration',
  },
  cluster: {
    id: 'cluster',
    reason: 'CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock',
    fix: 'rebuild the table online (pg_repack) outside the migration',
  },
  lockTable: {
    id: 'lock-table',
    reason: 'LOCK TABLE makes every query on the table wait until the migration commits',
    fix: 'take no explicit lock: do the change in steps that need only short locks',
  },
  unparsable: {
    id: 'unparsable',
    reason: 'the PostgreSQL parser cannot read this SQL, so nothing in it was checked',
    fix: 'fix the syntax, or accept it with -- mig:allow unparsable: <why>',
  },
} as const satisfies Record<string, LintRule>;

/** Functions known not to be volatile (immutable or stable): a default calling only these is no rewrite. */
const NOT_VOLATILE = new Set([
  'now',
  'transaction_timestamp',
  'statement_timestamp',
  'current_date',
  'current_timestamp',
  'localtimestamp',
  'current_setting',
  'current_user',
  'session_user',
  'current_schema',
  'lower',
  'upper',
  'coalesce',
  'jsonb_build_object',
  'json_build_object',
  'jsonb_build_array',
  'json_build_array',
  'array',
  'to_jsonb',
  'to_json',
  'make_interval',
  'make_date',
  'timezone',
  'date_trunc',
  'length',
  'concat',
  'abs',
]);

/** Types whose values need a sequence default (nextval, volatile): a rewrite when added to a table. */
const SERIAL_TYPES = new Set(['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial']);

/** A target type a column changes to without a rewrite, whatever it was (text-like, unbounded). */
const NO_REWRITE_TYPES = new Set(['text', 'varchar', 'citext']);

export type RuleKey = keyof typeof POSTGRES_RULES;

/** What the migration has done so far, for the rules that depend on it. */
export interface MigrationScope {
  /** Tables and indexes created by earlier statements of this migration (lowercase, unqualified). */
  readonly createdTables: Set<string>;
  readonly createdIndexes: Set<string>;
  /** Tables on which this migration validated a constraint (a CHECK that SET NOT NULL can rely on). */
  readonly validated: Set<string>;
}

export function newScope(): MigrationScope {
  return { createdTables: new Set(), createdIndexes: new Set(), validated: new Set() };
}

function obj(value: unknown): Node | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined;
}

function list(value: unknown): Node[] {
  return Array.isArray(value) ? (value as Node[]) : [];
}

function relname(relation: unknown): string {
  return String(obj(relation)?.relname ?? '').toLowerCase();
}

function names(value: unknown): string[] {
  return list(value).map((n) => String(obj(n.String)?.sval ?? '').toLowerCase());
}

/** The rules one statement breaks (before acceptance), and what it adds to the scope. */
export function checkStatement(statement: Node, scope: MigrationScope): RuleKey[] {
  const [kind, value] = Object.entries(statement)[0] ?? [];
  const node = obj(value) ?? {};
  switch (kind) {
    case 'CreateStmt':
      scope.createdTables.add(relname(node.relation));
      return [];
    case 'CreateTableAsStmt':
      scope.createdTables.add(relname(obj(node.into)?.rel));
      return [];
    case 'IndexStmt': {
      if (node.idxname) scope.createdIndexes.add(String(node.idxname).toLowerCase());
      const fresh = scope.createdTables.has(relname(node.relation));
      return node.concurrent === true || fresh ? [] : ['indexNotConcurrent'];
    }
    case 'DropStmt': {
      if (node.removeType !== 'OBJECT_INDEX' || node.concurrent === true) return [];
      const dropped = list(node.objects).map((o) => names(obj(o.List)?.items).at(-1) ?? '');
      return dropped.every((name) => scope.createdIndexes.has(name)) ? [] : ['indexNotConcurrent'];
    }
    case 'AlterTableStmt':
      if (node.objtype !== 'OBJECT_TABLE' || scope.createdTables.has(relname(node.relation))) return [];
      return list(node.cmds).flatMap((cmd) =>
        alterTableCmd(obj(cmd.AlterTableCmd) ?? {}, relname(node.relation), scope),
      );
    case 'RenameStmt':
      if (scope.createdTables.has(relname(node.relation))) return [];
      if (node.renameType === 'OBJECT_COLUMN') return ['renameColumn'];
      if (node.renameType === 'OBJECT_TABLE') return ['renameTable'];
      return [];
    case 'VacuumStmt': {
      const full = list(node.options).some((o) => String(obj(o.DefElem)?.defname).toLowerCase() === 'full');
      return full ? ['vacuumFull'] : [];
    }
    case 'ClusterStmt':
      return ['cluster'];
    case 'LockStmt':
      return list(node.relations).every((r) => scope.createdTables.has(relname(r.RangeVar))) ? [] : ['lockTable'];
    default:
      return [];
  }
}

function alterTableCmd(cmd: Node, table: string, scope: MigrationScope): RuleKey[] {
  switch (cmd.subtype) {
    case 'AT_AddColumn':
      return addColumn(obj(obj(cmd.def)?.ColumnDef) ?? {});
    case 'AT_AlterColumnType': {
      const def = obj(obj(cmd.def)?.ColumnDef) ?? {};
      const type = obj(def.typeName) ?? {};
      const name = names(type.names).at(-1) ?? '';
      const unbounded = list(type.typmods).length === 0;
      return NO_REWRITE_TYPES.has(name) && unbounded && def.raw_default === undefined ? [] : ['columnType'];
    }
    case 'AT_AddConstraint':
      return constraint(obj(obj(cmd.def)?.Constraint) ?? {});
    case 'AT_ValidateConstraint':
      scope.validated.add(table);
      return [];
    case 'AT_SetNotNull':
      return scope.validated.has(table) ? [] : ['setNotNull'];
    case 'AT_DropColumn':
      return ['dropColumn'];
    default:
      return [];
  }
}

function constraint(c: Node): RuleKey[] {
  if ((c.contype === 'CONSTR_FOREIGN' || c.contype === 'CONSTR_CHECK') && c.skip_validation !== true) {
    return ['constraintNotValid'];
  }
  if ((c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY') && !c.indexname) return ['uniqueUnderLock'];
  return [];
}

function addColumn(def: Node): RuleKey[] {
  const constraints = list(def.constraints).map((c) => obj(c.Constraint) ?? {});
  const found: RuleKey[] = [];
  const defaultExpr = constraints.find((c) => c.contype === 'CONSTR_DEFAULT')?.raw_expr;
  const type = names(obj(def.typeName)?.names).at(-1) ?? '';
  const generatedStored = constraints.some((c) => c.contype === 'CONSTR_GENERATED');
  if (SERIAL_TYPES.has(type) || generatedStored || (defaultExpr !== undefined && isVolatile(defaultExpr))) {
    found.push('volatileDefault');
  }
  const notNull = constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
  if (notNull && defaultExpr === undefined && !SERIAL_TYPES.has(type) && !generatedStored) {
    found.push('notNullWithoutDefault');
  }
  if (constraints.some((c) => c.contype === 'CONSTR_UNIQUE' || c.contype === 'CONSTR_PRIMARY')) {
    found.push('uniqueUnderLock');
  }
  if (constraints.some((c) => c.contype === 'CONSTR_CHECK' && c.skip_validation !== true)) {
    found.push('constraintNotValid');
  }
  return found;
}

/** A default expression that calls a volatile function (or one not known to be stable), or a subquery. */
export function isVolatile(expr: unknown): boolean {
  const node = obj(expr);
  if (node === undefined) return Array.isArray(expr) ? expr.some(isVolatile) : false;
  for (const [key, value] of Object.entries(node)) {
    if (key === 'FuncCall') {
      const name = names(obj(value)?.funcname).at(-1) ?? '';
      if (!NOT_VOLATILE.has(name)) return true;
    }
    if (key === 'SubLink') return true;
    if (typeof value === 'object' && value !== null && isVolatile(value)) return true;
  }
  return false;
}
