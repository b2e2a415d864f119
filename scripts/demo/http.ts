import { Semaphore, sleep } from './concurrency';

/** A problem+json body as the API sends it for every error. */
export interface Problem {
  code?: string;
  detail?: string;
}

/** Raised when the API responds with a status the caller did not expect. */
export class ApiRequestError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly code: string | undefined,
    readonly detail: string | undefined,
  ) {
    super(`${method} ${path} failed with HTTP ${status}${code ? ` ${code}` : ''}${detail ? `: ${detail}` : ''}`);
    this.name = 'ApiRequestError';
  }
}

export interface RequestOptions {
  token: string;
  body?: unknown;
  /** Sent as the Idempotency-Key header; it also makes a POST safe to retry. */
  idempotencyKey?: string;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** The latency of one request, with its operation: method and path with ids replaced by `:id`. */
export interface LatencySample {
  operation: string;
  ms: number;
}

const UUID_PATTERN = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi;

/** Attempts per request when the connection fails or the API responds 503. */
const MAX_ATTEMPTS = 3;
const RETRY_BASE_DELAY_MS = 250;
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * A JSON client for the Time Bank API that records the latency of every
 * request it sends. Requests wait for a free slot when `maxInFlight` are
 * already running, and the recorded latency excludes that wait. Only GETs and
 * requests with an Idempotency-Key are retried, so no retry acts twice.
 */
export class ApiClient {
  private readonly samples: LatencySample[] = [];
  private readonly slots: Semaphore;

  constructor(
    private readonly baseUrl: string,
    maxInFlight: number,
  ) {
    this.slots = new Semaphore(maxInFlight);
  }

  /** Body text of every response received, for the personal-data scan. */
  readonly responseBodies: string[] = [];

  /** Latency of every request sent so far, including failed ones. */
  get latencies(): readonly LatencySample[] {
    return this.samples;
  }

  /** Sends a request and returns any HTTP response. Raises only when no response arrives. */
  async send(method: 'GET' | 'POST', path: string, options: RequestOptions): Promise<ApiResponse> {
    const retryable = method === 'GET' || options.idempotencyKey !== undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.slots.run(() => this.sendOnce(method, path, options));
        if (response.status !== 503 || !retryable || attempt >= MAX_ATTEMPTS) return response;
      } catch (err) {
        if (!retryable || attempt >= MAX_ATTEMPTS) {
          throw new Error(`${method} ${path} failed after ${attempt} attempt(s): ${(err as Error).message}`, { cause: err });
        }
      }
      await sleep(RETRY_BASE_DELAY_MS * 2 ** (attempt - 1));
    }
  }

  /** Sends a request and returns the parsed body; raises ApiRequestError unless the status is 2xx. */
  async call<T>(method: 'GET' | 'POST', path: string, options: RequestOptions): Promise<T> {
    const response = await this.send(method, path, options);
    if (response.status < 200 || response.status >= 300) throw toRequestError(method, path, response);
    return response.body as T;
  }

  private async sendOnce(method: string, path: string, options: RequestOptions): Promise<ApiResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}`, 'accept-language': 'en' };
    if (options.idempotencyKey) headers['idempotency-key'] = options.idempotencyKey;
    let body: string | undefined;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }

    const startedAt = performance.now();
    try {
      const response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
      const text = await response.text();
      this.responseBodies.push(text);
      return { status: response.status, body: parseJson(text) };
    } finally {
      const operation = `${method} ${path.replace(UUID_PATTERN, ':id')}`;
      this.samples.push({ operation, ms: performance.now() - startedAt });
    }
  }
}

export function toRequestError(method: string, path: string, response: ApiResponse): ApiRequestError {
  const problem = (typeof response.body === 'object' && response.body !== null ? response.body : {}) as Problem;
  const detail = problem.detail ?? (typeof response.body === 'string' ? response.body.slice(0, 200) : undefined);
  return new ApiRequestError(method, path, response.status, problem.code, detail);
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
