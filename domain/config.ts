import { z } from 'zod';
import { Policy, policySchema } from './policy';
import { DataProtectionKeys, parseDataProtectionKeys, parseTrustedIssuers, TrustedIssuer } from './secrets-config';

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
  /** JSON object mapping each data key id to a base64 AES-256 key (32 bytes). */
  TIMEBANK_DATA_KEYS: z.string().min(1).optional(),
  /** The key id in TIMEBANK_DATA_KEYS that encrypts new values. */
  TIMEBANK_DATA_KEY_ID: z.string().min(1).optional(),
  /** Base64 HMAC-SHA256 key (at least 32 bytes) of the lookup hashes of ID and phone numbers. */
  TIMEBANK_DATA_HASH_KEY: z.string().min(1).optional(),
  /** JSON object mapping each trusted upstream token issuer to its JWKS, inline or as a file path. */
  TIMEBANK_TRUSTED_ISSUERS: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** Base URL of Volunteer Beijing (志愿北京); without it the system starts its simulator on 127.0.0.1. */
  REGISTRY_URL: z.url({ protocol: /^https?$/, error: 'must be an http or https URL' }).optional(),
  REGISTRY_API_KEY: z.string().min(16, 'must be at least 16 characters').optional(),
});

export interface AppConfig {
  profile: 'default' | 'demo';
  databaseUrl?: string;
  temporal: { address?: string; namespace: string; taskQueue: string };
  api: { port: number; host: string };
  dataDir: string;
  jwt: { secret?: string; issuer: string };
  /** Keys that encrypt and hash personal data; absent until configured or generated for a local start. */
  dataProtection?: DataProtectionKeys;
  /** Upstream issuers whose tokens authenticate elders and volunteers. */
  trustedIssuers: TrustedIssuer[];
  minuteMs: number;
  policy: Policy;
  logLevel: string;
  /** Volunteer Beijing endpoint and API key; both unset means the simulator runs in-process. */
  registry: { url?: string; apiKey?: string };
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

  const keyIssues: string[] = [];
  const dataProtection = parseDataProtectionKeys(
    e.TIMEBANK_DATA_KEYS,
    e.TIMEBANK_DATA_KEY_ID,
    e.TIMEBANK_DATA_HASH_KEY,
    keyIssues,
  );
  const trustedIssuers = parseTrustedIssuers(e.TIMEBANK_TRUSTED_ISSUERS, e.TIMEBANK_JWT_ISSUER, keyIssues);
  if (e.REGISTRY_URL && !e.REGISTRY_API_KEY) keyIssues.push('REGISTRY_API_KEY: missing while REGISTRY_URL is set');
  if (keyIssues.length > 0) throw new ConfigError(keyIssues);

  const minuteMs = e.TIMEBANK_MINUTE_MS ?? (e.TIMEBANK_PROFILE === 'demo' ? DEMO_MINUTE_MS : 60_000);

  return {
    profile: e.TIMEBANK_PROFILE,
    databaseUrl: e.DATABASE_URL,
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    api: { port: e.API_PORT, host: e.API_HOST },
    dataDir: e.DATA_DIR,
    jwt: { secret: e.TIMEBANK_JWT_SECRET, issuer: e.TIMEBANK_JWT_ISSUER },
    dataProtection,
    trustedIssuers,
    minuteMs,
    policy: parsedPolicy.data,
    logLevel: e.LOG_LEVEL,
    registry: { url: e.REGISTRY_URL, apiKey: e.REGISTRY_API_KEY },
  };
}
