import type { OpenAPIRegistry, ResponseConfig, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { ERROR_CATALOG, ErrorCode } from '../../domain/errors';
import type { ActorRole } from '../../domain/order';
import { onBehalfOfSchema } from '../auth';
import { idempotencyKeyHeader } from '../schemas';

/*
 * Building blocks of the OpenAPI description. Each api/openapi/*.ts file
 * describes the routes of one concept as RouteDoc entries, and registerRoute
 * turns an entry into a zod-to-openapi path with its parameters, request body
 * and problem responses.
 */

/** Security requirement of every /v1 route except staff sign-in. */
export const BEARER = [{ bearer: [] }];

/** The application/problem+json body that sendProblem (api/problem.ts) writes for every error. */
export const problemSchema = z
  .object({
    type: z.string().openapi({ example: 'urn:timebank:problem:validation_failed' }),
    /** Catalog message of the code, in the language the Accept-Language header selects. */
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(ERROR_CATALOG) as [ErrorCode, ...ErrorCode[]]),
    detail: z.string(),
    /** The English detail, when a Chinese reader got the catalog message as the detail. */
    technicalDetail: z.string().optional(),
    /** The first failing field, for example body.residentId or header.Idempotency-Key. */
    field: z.string().optional(),
    errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
  })
  .openapi('Problem');

/** Ledger rejections that every coin movement can return. */
export const LEDGER_ERRORS: ErrorCode[] = ['ACCOUNT_NOT_FOUND', 'INSUFFICIENT_BALANCE', 'IDEMPOTENCY_CONFLICT'];

/** Errors that any bearer-authenticated route can return before its handler runs. */
const AUTHENTICATION_ERRORS: ErrorCode[] = [
  'UNAUTHENTICATED',
  'AGENT_NOT_REGISTERED',
  'AGENT_CONSENT_MISSING',
  // A malformed On-Behalf-Of header of an agent.
  'VALIDATION_FAILED',
];

/** Errors of reading a JSON request body (express.json and body-parser). */
const BODY_ERRORS: ErrorCode[] = ['VALIDATION_FAILED', 'MALFORMED_JSON', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE'];

export interface RouteDoc {
  method: 'get' | 'post' | 'delete';
  /** OpenAPI path template, for example /v1/orders/{id}. */
  path: string;
  summary: string;
  /** Facts a caller needs beyond the summary. registerRoute appends the allowed roles. */
  description?: string;
  /** Roles the route lets through: 'any' means every signed-in caller, and 'public' a route that needs no bearer token. */
  roles: readonly ActorRole[] | 'any' | 'public';
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** Set when the route reads the Idempotency-Key header, to 'required' when it rejects a request without one. */
  idempotencyKey?: 'required' | 'optional';
  /** True when an agent calls the route for a person and must name that person in On-Behalf-Of. */
  onBehalfOf?: boolean;
  /** Success statuses and what each means. */
  success: Record<number, string>;
  /**
   * Error codes the handler raises. registerRoute adds the codes of
   * authentication, body parsing, a missing Idempotency-Key and INTERNAL.
   */
  errors: ErrorCode[];
}

const IDEMPOTENCY_KEY_TEXT = {
  required:
    'Required. A retry with the same key returns the first result instead of acting twice. ' +
    'The same key with different content returns 409 IDEMPOTENCY_CONFLICT.',
  optional: 'Optional. A retry of this step with the same key returns the first outcome instead of acting twice.',
} as const;

const ON_BEHALF_OF_TEXT =
  'Agents (机构代办人) only, and required for them: the id of the person acted for, ' +
  "who must have consented to the agent's institution acting for them.";

function headerParameters(doc: RouteDoc): z.ZodObject | undefined {
  const shape: Record<string, z.ZodType> = {};
  if (doc.idempotencyKey) {
    const key = idempotencyKeyHeader.openapi({ description: IDEMPOTENCY_KEY_TEXT[doc.idempotencyKey] });
    shape['Idempotency-Key'] = doc.idempotencyKey === 'required' ? key : key.optional();
  }
  if (doc.onBehalfOf) {
    shape['On-Behalf-Of'] = onBehalfOfSchema.openapi({ description: ON_BEHALF_OF_TEXT }).optional();
  }
  return Object.keys(shape).length > 0 ? z.object(shape) : undefined;
}

/**
 * Response headers of two problem statuses: sendProblem sets WWW-Authenticate
 * on every 401, and staff sign-in sets Retry-After on its 429.
 */
const PROBLEM_HEADERS: Partial<Record<number, z.ZodObject>> = {
  401: z.object({ 'WWW-Authenticate': z.string().openapi({ example: 'Bearer realm="timebank"' }) }),
  429: z.object({ 'Retry-After': z.string().openapi({ description: 'Seconds until the next sign-in attempt is allowed' }) }),
};

/** Collects the error codes of the route: its own and the ones shared by every route with the same inputs. */
function errorCodes(doc: RouteDoc): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (doc.roles !== 'public') AUTHENTICATION_ERRORS.forEach((code) => codes.add(code));
  if (doc.params || doc.query || doc.idempotencyKey) codes.add('VALIDATION_FAILED');
  if (doc.body) BODY_ERRORS.forEach((code) => codes.add(code));
  if (doc.idempotencyKey === 'required') codes.add('IDEMPOTENCY_KEY_REQUIRED');
  doc.errors.forEach((code) => codes.add(code));
  // Every /v1 route reads the database or Temporal, and an unexpected failure there becomes a 500.
  if (doc.path.startsWith('/v1/')) codes.add('INTERNAL');
  return [...codes];
}

/** Joins codes as "A", "A or B", "A, B or C". */
function listOfCodes(codes: ErrorCode[]): string {
  return codes.length === 1 ? codes[0] : `${codes.slice(0, -1).join(', ')} or ${codes[codes.length - 1]}`;
}

/** Builds one problem response per HTTP status, naming the error codes that share it. */
function problemResponses(codes: ErrorCode[]): Record<number, ResponseConfig> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) {
    const status = ERROR_CATALOG[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<number, ResponseConfig> = {};
  for (const [status, statusCodes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[status] = {
      description: `Problem details with code ${listOfCodes(statusCodes)}`,
      headers: PROBLEM_HEADERS[status],
      content: { 'application/problem+json': { schema: problemSchema } },
    };
  }
  return responses;
}

function describeRoles(roles: RouteDoc['roles']): string {
  if (roles === 'public') return 'No bearer token needed.';
  if (roles === 'any') return 'Roles: any signed-in caller.';
  return `Roles: ${roles.join(', ')}.`;
}

/** Registers one route: parameters, request body, success and problem responses. */
export function registerRoute(registry: OpenAPIRegistry, tag: string, doc: RouteDoc): void {
  const request: NonNullable<RouteConfig['request']> = {};
  if (doc.params) request.params = doc.params;
  if (doc.query) request.query = doc.query;
  const headers = headerParameters(doc);
  if (headers) request.headers = headers;
  if (doc.body) {
    // Routes parse `req.body ?? {}`, so a body may be left out when the schema accepts an empty object.
    request.body = { required: !doc.body.safeParse({}).success, content: { 'application/json': { schema: doc.body } } };
  }

  const responses: Record<number, ResponseConfig> = {};
  for (const [status, description] of Object.entries(doc.success)) responses[Number(status)] = { description };
  Object.assign(responses, problemResponses(errorCodes(doc)));

  registry.registerPath({
    method: doc.method,
    path: doc.path,
    tags: [tag],
    summary: doc.summary,
    description: [doc.description, describeRoles(doc.roles)].filter((text) => text !== undefined).join('\n\n'),
    security: doc.roles === 'public' ? [] : BEARER,
    request,
    responses,
  });
}
