import { ApplicationFailure } from '@temporalio/workflow';
import type { ErrorCode } from '../domain/errors';

/** Raises a non-retryable failure whose type is an API error code, so callers of an update get that code. */
export function fail(type: ErrorCode, message: string): never {
  throw ApplicationFailure.create({ type, message, nonRetryable: true });
}
