import { MigErrorCode, MigrationSourceError } from '@mig/core';
import { expect } from 'vitest';

/** The error a source's load rejects with: a MigrationSourceError with the INVALID_SOURCE code. */
export async function loadError(load: () => Promise<unknown>): Promise<MigrationSourceError> {
  const error = await load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationSourceError);
  expect((error as MigrationSourceError).code).toBe(MigErrorCode.InvalidSource);
  return error as MigrationSourceError;
}
