import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { isBusinessRejection } from '../runtime/temporal-logger';

function entry(message: string, error?: unknown): LogEntry {
  return { level: 'WARN', message, meta: error === undefined ? {} : { error }, timestampNanos: 0n };
}

test('non-retryable coded failure is a rejection', () => {
  const failure = ApplicationFailure.nonRetryable('volunteer already booked', 'VOLUNTEER_OVERLAP');
  expect(isBusinessRejection(entry('Activity failed', failure))).toBe(true);
});

test('retryable failure stays a warning', () => {
  const failure = ApplicationFailure.retryable('registry answered 503', 'REGISTRY_UNAVAILABLE');
  expect(isBusinessRejection(entry('Activity failed', failure))).toBe(false);
});

test('registry failure stays a warning', () => {
  const failure = ApplicationFailure.nonRetryable('set REGISTRY_URL', 'REGISTRY_NOT_CONFIGURED');
  expect(isBusinessRejection(entry('Activity failed', failure))).toBe(false);
});

test('plain error stays a warning', () => {
  expect(isBusinessRejection(entry('Activity failed', new Error('connection refused')))).toBe(false);
});

test('failure without a code stays a warning', () => {
  expect(isBusinessRejection(entry('Activity failed', ApplicationFailure.nonRetryable('no type')))).toBe(false);
});

test('other messages stay as they are', () => {
  const failure = ApplicationFailure.nonRetryable('volunteer already booked', 'VOLUNTEER_OVERLAP');
  expect(isBusinessRejection(entry('Workflow failed', failure))).toBe(false);
});
