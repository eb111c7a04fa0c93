import { MigErrorCode } from '@mig/core';

/** The `mig` command's exit codes: a stable interface that scripts depend on. */
export const ExitCode = {
  Ok: 0,
  /** A migration failed (or the database could not be used). */
  Failed: 1,
  /** Bad usage or configuration. */
  Usage: 2,
  /** The lock wait timed out. */
  LockTimeout: 3,
  /** Verification failed: a changed, missing or out-of-order migration. */
  VerifyFailed: 4,
  /** Pending migrations (status --fail-on-pending, verify). */
  Pending: 5,
  /** `mig lint` found statements that no `-- mig:allow` accepts. */
  LintFindings: 6,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error a command ended with. */
export function exitCodeFor(error: unknown): ExitCode {
  const code = (error as { code?: unknown } | null)?.code;
  switch (code) {
    case MigErrorCode.InvalidConfig:
    case MigErrorCode.InvalidSource:
    case MigErrorCode.InvalidTarget:
    case MigErrorCode.InvalidOption:
      return ExitCode.Usage;
    case MigErrorCode.LockTimeout:
      return ExitCode.LockTimeout;
    case MigErrorCode.Drift:
    case MigErrorCode.HistoryMismatch:
    case MigErrorCode.ForeignHistory:
      return ExitCode.VerifyFailed;
    case MigErrorCode.Pending:
      return ExitCode.Pending;
    default:
      return ExitCode.Failed;
  }
}
