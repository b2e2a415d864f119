import pino, { Logger } from 'pino';

/**
 * Structured JSON logs, one object per line. Bearer tokens and the personal
 * data fields are redacted wherever they appear in a logged object.
 */
export function createLogger(level: string, name = 'timebank'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: ['req.headers.authorization', '*.authorization', '*.residentId', '*.phone', 'residentId', 'phone', 'token'],
      censor: '[redacted]',
    },
  });
}
