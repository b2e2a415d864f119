/** Problem+json responses and input parsing shared by the simulator's routes. */
import type { Response } from 'express';
import { z } from 'zod';
import { RegistryErrorCode } from './contract';

/** Largest request body accepted. */
export const BODY_LIMIT = '64kb';

/** An error that the error handler turns into a problem+json response. */
export class ProblemError extends Error {
  constructor(
    readonly status: number,
    readonly code: RegistryErrorCode,
    detail: string,
    readonly errors: { field: string; message: string }[] = [],
  ) {
    super(detail);
  }
}

const PROBLEM_TITLES: Record<RegistryErrorCode, string> = {
  validation_failed: 'The request is invalid',
  malformed_json: 'The request body is not valid JSON',
  unsupported_media_type: 'The request body must be application/json',
  payload_too_large: 'The request body is too large',
  unauthorized: 'Missing or invalid API key',
  route_not_found: 'No such endpoint',
  service_record_not_found: 'Service record not found',
  claim_not_found: 'Claim not found',
  record_conflict: 'The record id is already used with different content',
  claim_conflict: 'The claim id is already used with different content',
  unknown_service_record: 'The claim refers to an unknown service record',
  volunteer_mismatch: 'The claim volunteer differs from the service record volunteer',
  claim_closed: 'The claim is closed',
  unavailable: 'The registry is temporarily unavailable',
  internal: 'Internal error',
};

export function sendProblem(
  res: Response,
  status: number,
  code: RegistryErrorCode,
  detail: string,
  errors: { field: string; message: string }[] = [],
): void {
  if (status === 401) res.set('WWW-Authenticate', 'Bearer realm="volunteer-beijing"');
  if (status === 503) res.set('Retry-After', '1');
  res
    .status(status)
    .type('application/problem+json')
    .json({
      type: `urn:volunteer-beijing:problem:${code}`,
      title: PROBLEM_TITLES[code],
      status,
      code,
      detail,
      ...(errors.length > 0 ? { errors } : {}),
    });
}

/** Parses `value`, raising a 400 whose messages name each failing field under `where` (body or params). */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.flatMap((issue) => {
    const path = [where, ...issue.path.map(String)];
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const field = [...path, key].join('.');
        return { field, message: `${field}: unknown field; remove it` };
      });
    }
    const field = path.join('.');
    return [{ field, message: `${field}: ${issue.message}` }];
  });
  throw new ProblemError(400, 'validation_failed', errors.map((e) => e.message).join('; '), errors);
}

/**
 * Maps the errors express raises before a route runs (an undecodable path or
 * an unreadable body), or returns undefined for any other error.
 */
export function bodyReadProblem(
  err: unknown,
): { status: number; code: RegistryErrorCode; field: string; detail: string } | undefined {
  // Express raises a URIError with status 400 when a path parameter is not valid percent-encoding.
  if (err instanceof URIError) {
    return { status: 400, code: 'validation_failed', field: 'params', detail: 'not valid percent-encoding' };
  }
  const httpError = err as { type?: unknown; status?: unknown } | undefined;
  if (httpError?.type === 'entity.parse.failed') {
    return { status: 400, code: 'malformed_json', field: 'body', detail: 'not valid JSON' };
  }
  if (httpError?.type === 'entity.too.large') {
    return { status: 413, code: 'payload_too_large', field: 'body', detail: `larger than ${BODY_LIMIT}` };
  }
  if (typeof httpError?.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
    return { status: 400, code: 'malformed_json', field: 'body', detail: 'could not be read or decoded' };
  }
  return undefined;
}
