import pino, { DestinationStream, Logger } from 'pino';
import { maskPersonalNumbersInText } from '../domain/resident-id';

/** Fields replaced with [redacted] in every logged object, at the top level and one level down. */
const REDACTED_KEYS = [
  'authorization',
  'cookie',
  'password',
  'passwordHash',
  'token',
  'accessToken',
  'residentId',
  'phone',
];

const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'headers.authorization',
  ...REDACTED_KEYS,
  ...REDACTED_KEYS.map((key) => `*.${key}`),
];

/**
 * Wraps a destination so every line is scanned for resident ID and mobile
 * numbers before it is written. This catches values that reach a log line
 * outside a redacted field, such as inside an error message or a stack.
 */
function maskingDestination(destination: DestinationStream): DestinationStream {
  return {
    write(line: string) {
      destination.write(maskPersonalNumbersInText(line));
    },
  };
}

/**
 * Structured JSON logs, one object per line, on standard output unless
 * `destination` is given. Tokens, passwords and personal data fields are
 * redacted wherever they appear in a logged object, and ID and phone numbers
 * left anywhere else in a line are masked.
 */
export function createLogger(level: string, name = 'timebank', destination?: DestinationStream): Logger {
  return pino(
    {
      name,
      level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    },
    maskingDestination(destination ?? pino.destination(1)),
  );
}
