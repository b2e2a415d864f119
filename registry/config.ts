import { z } from 'zod';
import { ConfigError } from '../domain/config';

/** Shortest API key accepted, so a placeholder such as "changeme" fails at start. */
export const MIN_API_KEY_LENGTH = 16;

const apiKeySchema = z.string().min(MIN_API_KEY_LENGTH, `must be at least ${MIN_API_KEY_LENGTH} characters`);

const clientEnvSchema = z.object({
  REGISTRY_URL: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).optional(),
  REGISTRY_API_KEY: apiKeySchema.optional(),
  REGISTRY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
});

const simulatorEnvSchema = z.object({
  REGISTRY_SIM_DATABASE_URL: z.url({ error: 'must be a PostgreSQL connection URL' }),
  REGISTRY_SIM_PORT: z.coerce.number().int().min(0).max(65535).default(4100),
  REGISTRY_SIM_HOST: z.string().min(1).default('127.0.0.1'),
  REGISTRY_API_KEY: apiKeySchema,
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

/** Settings of the Volunteer Beijing client. */
export interface RegistryClientConfig {
  baseUrl: string;
  apiKey: string;
  /** Per-request limit covering connect, response headers and body, in milliseconds. */
  timeoutMs: number;
}

/** Settings of the standalone simulator process. */
export interface RegistrySimulatorConfig {
  databaseUrl: string;
  port: number;
  host: string;
  apiKey: string;
  logLevel: string;
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

/**
 * Reads the client settings from REGISTRY_URL, REGISTRY_API_KEY and
 * REGISTRY_TIMEOUT_MS (default 10000). Returns undefined when neither the URL
 * nor the key is set, meaning the registry integration is off. Throws
 * ConfigError when only one of them is set or a value is invalid.
 */
export function loadRegistryClientConfig(env: NodeJS.ProcessEnv = process.env): RegistryClientConfig | undefined {
  const parsed = clientEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(issuesOf(parsed.error));

  const { REGISTRY_URL: baseUrl, REGISTRY_API_KEY: apiKey, REGISTRY_TIMEOUT_MS: timeoutMs } = parsed.data;
  if (baseUrl === undefined && apiKey === undefined) return undefined;
  if (baseUrl === undefined) throw new ConfigError(['REGISTRY_URL: missing while REGISTRY_API_KEY is set']);
  if (apiKey === undefined) throw new ConfigError(['REGISTRY_API_KEY: missing while REGISTRY_URL is set']);
  return { baseUrl, apiKey, timeoutMs };
}

/**
 * Reads the standalone simulator settings from REGISTRY_SIM_DATABASE_URL,
 * REGISTRY_SIM_PORT (default 4100), REGISTRY_SIM_HOST (default 127.0.0.1),
 * REGISTRY_API_KEY and LOG_LEVEL. Throws ConfigError naming every invalid variable.
 */
export function loadRegistrySimulatorConfig(env: NodeJS.ProcessEnv = process.env): RegistrySimulatorConfig {
  const parsed = simulatorEnvSchema.safeParse(env);
  if (!parsed.success) throw new ConfigError(issuesOf(parsed.error));

  const e = parsed.data;
  return {
    databaseUrl: e.REGISTRY_SIM_DATABASE_URL,
    port: e.REGISTRY_SIM_PORT,
    host: e.REGISTRY_SIM_HOST,
    apiKey: e.REGISTRY_API_KEY,
    logLevel: e.LOG_LEVEL,
  };
}
