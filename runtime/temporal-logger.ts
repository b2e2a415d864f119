import { DefaultLogger, LogEntry, LogLevel, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';

const TEMPORAL_LOG_LEVELS: Record<string, LogLevel> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN' };

/**
 * True for the SDK's "Activity failed" entry when the activity raised a
 * non-retryable ApplicationFailure with an error code, such as
 * VOLUNTEER_OVERLAP. Order and case activities raise those when a rule
 * rejects a request, and the workflow handles them, so they are not faults
 * of the worker. Volunteer Beijing failures (REGISTRY_*) stay warnings,
 * because they report a problem with the registry or its configuration.
 */
export function isBusinessRejection(entry: LogEntry): boolean {
  const error = entry.meta?.error as { nonRetryable?: unknown; type?: unknown } | undefined;
  return (
    entry.message === 'Activity failed' &&
    error?.nonRetryable === true &&
    typeof error.type === 'string' &&
    /^[A-Z][A-Z0-9_]*$/.test(error.type) &&
    !error.type.startsWith('REGISTRY_')
  );
}

/**
 * Sends the Temporal SDK's own logs (workflow log calls, activity failures)
 * through pino at the configured level, in place of its console output.
 * Business rejections are logged at info rather than warn. Must run before
 * the worker creates the SDK runtime.
 */
export function installTemporalLogger(logger: Logger): void {
  const temporalLogger = logger.child({ component: 'temporal' });
  const level = TEMPORAL_LOG_LEVELS[logger.level] ?? 'ERROR';
  Runtime.install({
    logger: new DefaultLogger(level, (entry) => {
      if (isBusinessRejection(entry)) {
        temporalLogger.info(entry.meta ?? {}, 'Activity rejected the request');
        return;
      }
      const method = entry.level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
      temporalLogger[method](entry.meta ?? {}, entry.message);
    }),
  });
}
