/** MySQL/MariaDB server error numbers mig reads (mysql2 puts them in `errno`). */
export const MysqlErrno = {
  /** ER_TABLE_EXISTS_ERROR: a CREATE TABLE lost a race with another session's. */
  TableExists: 1050,
  /** ER_DUP_ENTRY. */
  DuplicateEntry: 1062,
  /** ER_NO_SUCH_TABLE. */
  NoSuchTable: 1146,
  /** ER_LOCK_WAIT_TIMEOUT (innodb_lock_wait_timeout). */
  LockWaitTimeout: 1205,
  /** ER_LOCK_DEADLOCK: this transaction was rolled back. */
  Deadlock: 1213,
  /** ER_SP_DOES_NOT_EXIST, here: a SAVEPOINT that an implicit commit removed. */
  NoSuchSavepoint: 1305,
  /** ER_TABLE_DEF_CHANGED: a table created since this transaction's snapshot. */
  TableDefinitionChanged: 1412,
  /** ER_BAD_DB_ERROR: the database does not exist. */
  NoSuchDatabase: 1049,
  /** ER_CON_COUNT_ERROR: too many connections. */
  TooManyConnections: 1040,
  /** ER_SERVER_SHUTDOWN. */
  ServerShutdown: 1053,
  /** ER_CONNECTION_KILLED (MariaDB): the connection was ended by KILL. */
  ConnectionKilled: 1927,
  /** ER_QUERY_INTERRUPTED: KILL QUERY, or the statement's own time limit. */
  QueryInterrupted: 1317,
} as const;

/** The server's error number of a mysql2 error, or undefined for anything else. */
export function mysqlErrno(error: unknown): number | undefined {
  const errno = (error as { errno?: unknown } | null)?.errno;
  const sqlState = (error as { sqlState?: unknown } | null)?.sqlState;
  // Node's own system errors have a (negative) errno too, and no sqlState.
  return typeof errno === 'number' && errno > 0 && typeof sqlState === 'string' ? errno : undefined;
}

/** mig's tables (or the database named for them) do not exist. */
export function isMysqlUndefinedTable(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno === MysqlErrno.NoSuchTable || errno === MysqlErrno.NoSuchDatabase;
}

/**
 * Raised when several sessions create the same tables (or the head row) at the same moment: the loser's
 * IF NOT EXISTS looked before the winner's table existed, its snapshot predates the table, or the two
 * deadlocked. Trying again finds the work done.
 */
export function isMysqlConcurrentCreate(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return (
    errno === MysqlErrno.TableExists ||
    errno === MysqlErrno.DuplicateEntry ||
    errno === MysqlErrno.Deadlock ||
    errno === MysqlErrno.LockWaitTimeout ||
    errno === MysqlErrno.TableDefinitionChanged
  );
}

/** Two sessions collided on a row lock; the statement (or transaction) can simply be tried again. */
export function isMysqlLockCollision(error: unknown): boolean {
  const errno = mysqlErrno(error);
  return errno === MysqlErrno.Deadlock || errno === MysqlErrno.LockWaitTimeout || errno === MysqlErrno.DuplicateEntry;
}

/**
 * A connection refused for now, not for good: too many clients (many instances starting at once), or the
 * server going down or coming up. An attempt that meets it was not made, and may be made again.
 */
export function isMysqlTransientConnectionError(error: unknown): boolean {
  const errno = mysqlErrno(error);
  if (errno === MysqlErrno.TooManyConnections || errno === MysqlErrno.ServerShutdown) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ECONNREFUSED' || code === 'ER_CON_COUNT_ERROR';
}

/** The connection was ended from outside: KILL, a server shutting down, a connection lost under a statement. */
export function isMysqlSessionEnded(error: unknown): boolean {
  const errno = mysqlErrno(error);
  if (errno === MysqlErrno.ConnectionKilled || errno === MysqlErrno.ServerShutdown) return true;
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'PROTOCOL_CONNECTION_LOST' || code === 'ECONNRESET' || code === 'ER_CONNECTION_KILLED';
}
