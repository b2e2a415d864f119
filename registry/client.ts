/**
 * Client of Volunteer Beijing (志愿北京). Each method sends one HTTP request and
 * never retries, because Temporal activities own the retry policy. They read
 * the `retryable` flag of the thrown RegistryError to decide.
 */
import { z } from 'zod';
import { ConfigError } from '../domain/config';
import {
  ClaimInput,
  ClaimStatus,
  ServiceRecord,
  ServiceRecordInput,
  VolunteerStatus,
  claimInputSchema,
  claimStatusSchema,
  externalIdSchema,
  registryPaths,
  registryProblemSchema,
  serviceRecordInputSchema,
  serviceRecordSchema,
  volunteerRefSchema,
  volunteerStatusSchema,
} from './contract';

export type RegistryOperation =
  | 'getVolunteerStatus'
  | 'putServiceRecord'
  | 'backfillServiceRecord'
  | 'getServiceRecord'
  | 'putClaim'
  | 'getClaimStatus';

export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * Base class of every failure the client raises. `retryable` is true when
 * sending the same request again may succeed. Each subclass sets `name` to
 * its class name, which Temporal uses as the failure type.
 */
export abstract class RegistryError extends Error {
  abstract readonly kind: 'input' | 'timeout' | 'connection' | 'server' | 'request' | 'response';
  abstract readonly retryable: boolean;

  constructor(
    readonly operation: RegistryOperation,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The arguments failed the contract schemas, so nothing was sent. Not retryable. */
export class RegistryInputError extends RegistryError {
  override readonly name = 'RegistryInputError';
  readonly kind = 'input';
  readonly retryable = false;

  constructor(
    operation: RegistryOperation,
    readonly issues: FieldIssue[],
  ) {
    super(operation, `Volunteer Beijing ${operation}: invalid input: ${formatIssues(issues)}`);
  }
}

/**
 * No complete response arrived within the client's timeout. A write may
 * still have been applied, so callers retry with the same id. Retryable.
 */
export class RegistryTimeoutError extends RegistryError {
  override readonly name = 'RegistryTimeoutError';
  readonly kind = 'timeout';
  readonly retryable = true;

  constructor(
    operation: RegistryOperation,
    readonly timeoutMs: number,
  ) {
    super(operation, `Volunteer Beijing ${operation} timed out after ${timeoutMs} ms`);
  }
}

/** The connection failed (refused, reset, DNS failure). Retryable. */
export class RegistryConnectionError extends RegistryError {
  override readonly name = 'RegistryConnectionError';
  readonly kind = 'connection';
  readonly retryable = true;

  constructor(
    operation: RegistryOperation,
    /** System error code from Node, such as ECONNREFUSED, when one is available. */
    readonly systemCode: string | undefined,
    cause: unknown,
  ) {
    super(
      operation,
      `Volunteer Beijing ${operation} failed to connect${systemCode ? ` (${systemCode})` : ''}: ${messageOf(cause)}`,
      { cause },
    );
  }
}

/** The registry returned a 5xx status. Retryable. */
export class RegistryServerError extends RegistryError {
  override readonly name = 'RegistryServerError';
  readonly kind = 'server';
  readonly retryable = true;

  constructor(
    operation: RegistryOperation,
    readonly status: number,
    /** The problem `code`, or 'unknown' when the body carried none. */
    readonly code: string,
    readonly detail: string | undefined,
  ) {
    super(operation, `Volunteer Beijing ${operation} failed with ${status} ${code}${detail ? `: ${detail}` : ''}`);
  }
}

/**
 * The registry rejected the request with a 4xx status. Not retryable, except
 * 408 and 429, which mean "try again later" by definition (RFC 9110, RFC 6585).
 * `code` distinguishes the cases a caller acts on, such as record_conflict
 * (409) and unknown_service_record (422).
 */
export class RegistryRequestError extends RegistryError {
  override readonly name = 'RegistryRequestError';
  readonly kind = 'request';
  readonly retryable: boolean;

  constructor(
    operation: RegistryOperation,
    readonly status: number,
    /** The problem `code`, or 'unknown' when the body carried none. */
    readonly code: string,
    readonly detail: string | undefined,
    readonly fieldErrors: FieldIssue[],
  ) {
    super(operation, `Volunteer Beijing ${operation} failed with ${status} ${code}${detail ? `: ${detail}` : ''}`);
    this.retryable = status === 408 || status === 429;
  }
}

/**
 * A response did not match the contract: an unexpected status, a body that
 * is not JSON, or JSON that fails the schema. Not retryable, because it
 * points at a contract mismatch or a misconfigured base URL.
 */
export class RegistryResponseError extends RegistryError {
  override readonly name = 'RegistryResponseError';
  readonly kind = 'response';
  readonly retryable = false;

  constructor(
    operation: RegistryOperation,
    readonly status: number,
    reason: string,
  ) {
    super(operation, `Volunteer Beijing ${operation} returned an invalid response (status ${status}): ${reason}`);
  }
}

/** Result of an idempotent service record write. `created` is false when the same content was already stored. */
export interface ServiceRecordWriteResult {
  created: boolean;
  record: ServiceRecord;
}

/** Result of an idempotent claim submission. `created` is false when the same claim was already stored. */
export interface ClaimWriteResult {
  created: boolean;
  claim: ClaimStatus;
}

export interface RegistryClient {
  /** Fetches registration and insurance status. Unknown volunteers come back with `registered: false`. */
  getVolunteerStatus(volunteerRef: string): Promise<VolunteerStatus>;
  /**
   * Shares a settled service record. Repeating the same content is a no-op,
   * and different content under the same id raises 409 record_conflict.
   */
  putServiceRecord(recordId: string, record: ServiceRecordInput): Promise<ServiceRecordWriteResult>;
  /** Back-fills (补录) a record the registry lacks and marks it `backfilled`. Idempotent like putServiceRecord. */
  backfillServiceRecord(recordId: string, record: ServiceRecordInput): Promise<ServiceRecordWriteResult>;
  /** Fetches a stored service record, or undefined when the registry has none under that id. */
  getServiceRecord(recordId: string): Promise<ServiceRecord | undefined>;
  /**
   * Submits an accident insurance claim. Repeating the same content is a
   * no-op. Raises 409 claim_conflict for different content, and 422
   * unknown_service_record when the registry lacks the record, which the
   * caller then back-fills.
   */
  putClaim(claimId: string, claim: ClaimInput): Promise<ClaimWriteResult>;
  /** Fetches the review status of a claim, or undefined when the registry has no such claim. */
  getClaimStatus(claimId: string): Promise<ClaimStatus | undefined>;
}

const clientOptionsSchema = z.object({
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }),
  apiKey: z.string().min(1, 'must not be empty'),
  timeoutMs: z.int().positive(),
});

export type RegistryClientOptions = z.input<typeof clientOptionsSchema>;

interface Exchange<T> {
  operation: RegistryOperation;
  method: 'GET' | 'PUT' | 'POST';
  path: string;
  body?: unknown;
  schema: z.ZodType<T>;
  /** Problem code of a 404 that means "no such resource", turned into undefined. */
  notFoundCode?: string;
}

interface ExchangeResult<T> {
  status: number;
  value: T;
}

/** Creates a client; throws ConfigError when an option is invalid. */
export function createRegistryClient(options: RegistryClientOptions): RegistryClient {
  const parsedOptions = clientOptionsSchema.safeParse(options);
  if (!parsedOptions.success) {
    throw new ConfigError(parsedOptions.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const { apiKey, timeoutMs } = parsedOptions.data;
  const baseUrl = parsedOptions.data.baseUrl.replace(/\/+$/, '');

  async function exchange<T>(request: Exchange<T>): Promise<ExchangeResult<T> | undefined> {
    const { operation } = request;
    const headers: Record<string, string> = { authorization: `Bearer ${apiKey}`, accept: 'application/json' };
    if (request.body !== undefined) headers['content-type'] = 'application/json';

    // One timer covers the whole exchange, including reading the body, so a
    // server that stalls mid-body still times out.
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);

    let status: number;
    let text: string;
    try {
      const response = await fetch(baseUrl + request.path, {
        method: request.method,
        headers,
        body: request.body === undefined ? undefined : JSON.stringify(request.body),
        signal: controller.signal,
        redirect: 'error',
      });
      status = response.status;
      text = await response.text();
    } catch (err) {
      if (timedOut) throw new RegistryTimeoutError(operation, timeoutMs);
      throw new RegistryConnectionError(operation, systemCodeOf(err), err);
    } finally {
      clearTimeout(timer);
    }

    if (status === 200 || status === 201) {
      return { status, value: parseBody(operation, status, text, request.schema) };
    }

    const problem = parseProblem(text);
    if (status === 404 && request.notFoundCode !== undefined && problem?.code === request.notFoundCode) {
      return undefined;
    }
    const code = problem?.code ?? 'unknown';
    if (status >= 500 && status <= 599) {
      throw new RegistryServerError(operation, status, code, problem?.detail);
    }
    if (status >= 400 && status <= 499) {
      throw new RegistryRequestError(operation, status, code, problem?.detail, problem?.errors ?? []);
    }
    throw new RegistryResponseError(operation, status, 'expected status 200, 201 or an error status');
  }

  /** Sends a request whose success response is mandatory. */
  async function exchangeRequired<T>(request: Exchange<T>): Promise<ExchangeResult<T>> {
    const result = await exchange(request);
    if (result === undefined) {
      // exchange returns undefined only for requests that declare a notFoundCode.
      throw new RegistryResponseError(request.operation, 404, 'unexpected not-found response');
    }
    return result;
  }

  return {
    async getVolunteerStatus(volunteerRef) {
      const operation = 'getVolunteerStatus';
      const ref = validate(operation, volunteerRefSchema, volunteerRef, 'volunteerRef');
      const result = await exchangeRequired({
        operation,
        method: 'GET',
        path: registryPaths.volunteer(ref),
        schema: volunteerStatusSchema,
      });
      return result.value;
    },

    async putServiceRecord(recordId, record) {
      return writeServiceRecord('putServiceRecord', registryPaths.serviceRecord, 'PUT', recordId, record);
    },

    async backfillServiceRecord(recordId, record) {
      return writeServiceRecord('backfillServiceRecord', registryPaths.serviceRecordBackfill, 'POST', recordId, record);
    },

    async getServiceRecord(recordId) {
      const operation = 'getServiceRecord';
      const id = validate(operation, externalIdSchema, recordId, 'recordId');
      const result = await exchange({
        operation,
        method: 'GET',
        path: registryPaths.serviceRecord(id),
        schema: serviceRecordSchema,
        notFoundCode: 'service_record_not_found',
      });
      return result?.value;
    },

    async putClaim(claimId, claim) {
      const operation = 'putClaim';
      const id = validate(operation, externalIdSchema, claimId, 'claimId');
      const body = validate(operation, claimInputSchema, claim, 'claim');
      const result = await exchangeRequired({
        operation,
        method: 'PUT',
        path: registryPaths.claim(id),
        body,
        schema: claimStatusSchema,
      });
      return { created: result.status === 201, claim: result.value };
    },

    async getClaimStatus(claimId) {
      const operation = 'getClaimStatus';
      const id = validate(operation, externalIdSchema, claimId, 'claimId');
      const result = await exchange({
        operation,
        method: 'GET',
        path: registryPaths.claim(id),
        schema: claimStatusSchema,
        notFoundCode: 'claim_not_found',
      });
      return result?.value;
    },
  };

  async function writeServiceRecord(
    operation: 'putServiceRecord' | 'backfillServiceRecord',
    pathOf: (recordId: string) => string,
    method: 'PUT' | 'POST',
    recordId: string,
    record: ServiceRecordInput,
  ): Promise<ServiceRecordWriteResult> {
    const id = validate(operation, externalIdSchema, recordId, 'recordId');
    const body = validate(operation, serviceRecordInputSchema, record, 'record');
    const result = await exchangeRequired({ operation, method, path: pathOf(id), body, schema: serviceRecordSchema });
    return { created: result.status === 201, record: result.value };
  }
}

function validate<S extends z.ZodType>(
  operation: RegistryOperation,
  schema: S,
  value: unknown,
  argument: string,
): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new RegistryInputError(operation, issuesOf(result.error, argument));
}

function parseBody<T>(operation: RegistryOperation, status: number, text: string, schema: z.ZodType<T>): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RegistryResponseError(operation, status, 'the body is not JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    throw new RegistryResponseError(operation, status, formatIssues(issuesOf(result.error, 'body')));
  }
  return result.data;
}

/** Parses a problem+json body, or returns undefined for other bodies such as a proxy's HTML error page. */
function parseProblem(text: string) {
  try {
    const result = registryProblemSchema.safeParse(JSON.parse(text));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}

function issuesOf(error: z.ZodError, prefix: string): FieldIssue[] {
  return error.issues.flatMap((issue) => {
    const path = [prefix, ...issue.path.map(String)];
    // Zod reports all unknown keys of an object in one issue, so split it into one issue per key.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ field: [...path, key].join('.'), message: 'unknown field; remove it' }));
    }
    return [{ field: path.join('.'), message: issue.message }];
  });
}

function formatIssues(issues: FieldIssue[]): string {
  return issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ');
}

// Node's fetch (undici) raises TypeError('fetch failed') with the socket error as `cause`.
function systemCodeOf(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === 'string' ? cause.code : undefined;
}

function messageOf(err: unknown): string {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  const inner = cause instanceof Error ? `: ${cause.message}` : '';
  return err instanceof Error ? `${err.message}${inner}` : String(err);
}
