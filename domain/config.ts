import { z } from 'zod';
import { Policy, policySchema } from './policy';

/** Milliseconds per policy minute in the demo profile: one hour lasts 1.2 seconds. */
export const DEMO_MINUTE_MS = 20;

const envSchema = z.object({
  TIMEBANK_PROFILE: z.enum(['default', 'demo']).default('default'),
  DATABASE_URL: z.string().url().optional(),
  TEMPORAL_ADDRESS: z.string().min(1).optional(),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  TEMPORAL_TASK_QUEUE: z.string().min(1).default('timebank'),
  API_PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  DATA_DIR: z.string().min(1).default('data'),
  TIMEBANK_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  TIMEBANK_JWT_ISSUER: z.string().min(1).default('timebank'),
  TIMEBANK_MINUTE_MS: z.coerce.number().positive().optional(),
  TIMEBANK_POLICY_JSON: z.string().optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
});

export interface AppConfig {
  profile: 'default' | 'demo';
  databaseUrl?: string;
  temporal: { address?: string; namespace: string; taskQueue: string };
  api: { port: number; host: string };
  dataDir: string;
  jwt: { secret?: string; issuer: string };
  minuteMs: number;
  policy: Policy;
  logLevel: string;
}

export class ConfigError extends Error {
  constructor(readonly issues: string[]) {
    super(`Invalid configuration: ${issues.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses the environment into the typed configuration. Throws ConfigError
 * naming every invalid variable, so a misconfigured deployment fails at start.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsedEnv = envSchema.safeParse(env);
  if (!parsedEnv.success) {
    throw new ConfigError(parsedEnv.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsedEnv.data;

  let policyOverrides: unknown = {};
  if (e.TIMEBANK_POLICY_JSON) {
    try {
      policyOverrides = JSON.parse(e.TIMEBANK_POLICY_JSON);
    } catch (err) {
      throw new ConfigError([`TIMEBANK_POLICY_JSON: not valid JSON (${(err as Error).message})`]);
    }
  }
  const parsedPolicy = policySchema.safeParse(policyOverrides);
  if (!parsedPolicy.success) {
    throw new ConfigError(
      parsedPolicy.error.issues.map((i) => `TIMEBANK_POLICY_JSON.${i.path.join('.')}: ${i.message}`),
    );
  }

  const minuteMs = e.TIMEBANK_MINUTE_MS ?? (e.TIMEBANK_PROFILE === 'demo' ? DEMO_MINUTE_MS : 60_000);

  return {
    profile: e.TIMEBANK_PROFILE,
    databaseUrl: e.DATABASE_URL,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    api: { port: e.API_PORT, host: e.API_HOST },
    dataDir: e.DATA_DIR,
    jwt: { secret: e.TIMEBANK_JWT_SECRET, issuer: e.TIMEBANK_JWT_ISSUER },
    minuteMs,
    policy: parsedPolicy.data,
    logLevel: e.LOG_LEVEL,
  };
}
