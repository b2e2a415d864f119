import { randomUUID } from 'node:crypto';
import pino, { DestinationStream } from 'pino';
import { mintToken, TokenClaims } from '../../api/auth';
import { AppConfig, loadConfig } from '../../domain/config';
import { createLogger } from '../../runtime/logger';
import { RunningSystem, startSystem } from '../../runtime/system';
import { createTestDatabase, TestDatabase } from './db';
import { TEST_DATA_ENV } from './fixtures';

export const TEST_JWT_SECRET = 'test-secret-0123456789abcdef0123456789abcdef';

export interface ApiEnv {
  db: TestDatabase;
  system: RunningSystem;
  config: AppConfig;
  url: string;
  token(claims: TokenClaims): Promise<string>;
  /** Sends a JSON request and returns the status and parsed body. */
  call(
    method: string,
    path: string,
    opts?: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> },
  ): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

/**
 * Starts the API and a worker in this process against a fresh database and
 * the Temporal dev server of global-setup, on a task queue of their own.
 * `env` overrides configuration variables (for example TIMEBANK_MINUTE_MS).
 * With `logStream`, the system logs at info level through the production
 * logger (redaction and masking included) into that stream.
 */
export async function startApiEnv(
  env: Record<string, string> = {},
  opts: { logStream?: DestinationStream } = {},
): Promise<ApiEnv> {
  const address = process.env.TEMPORAL_TEST_ADDRESS;
  if (!address) throw new Error('TEMPORAL_TEST_ADDRESS is not set; run the tests through jest so global-setup starts Temporal');
  const db = await createTestDatabase();
  const config = loadConfig({
    TEMPORAL_TASK_QUEUE: `test-${randomUUID()}`,
    API_PORT: '0',
    TIMEBANK_JWT_SECRET: TEST_JWT_SECRET,
    ...TEST_DATA_ENV,
    ...env,
  });
  const logger = opts.logStream
    ? createLogger('info', 'timebank-test', opts.logStream)
    : pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  await db.orm.close(true);
  const system = await startSystem({ config, databaseUrl: db.url, temporalAddress: address, jwtSecret: TEST_JWT_SECRET, logger });
  db.orm = system.orm;
  const url = system.apiUrl!;
  return {
    db,
    system,
    config,
    url,
    token: (claims) => mintToken(TEST_JWT_SECRET, config.jwt.issuer, claims),
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...(opts.headers ?? {}) };
      if (opts.token) headers.authorization = `Bearer ${opts.token}`;
      let body: string | undefined;
      if (opts.rawBody !== undefined) {
        body = opts.rawBody;
        headers['content-type'] ??= 'application/json';
      } else if (opts.body !== undefined) {
        body = JSON.stringify(opts.body);
        headers['content-type'] = 'application/json';
      }
      const res = await fetch(`${url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // Non-JSON bodies are returned as text.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await system.stop();
      await db.drop().catch(() => undefined);
    },
  };
}
