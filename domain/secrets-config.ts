import { z } from 'zod';

/*
 * Parsing of the key material in the environment: the keys that protect
 * personal data at rest and the upstream token issuers. Each parser appends
 * one message per invalid variable to `issues` and never echoes a key.
 */

/** Keys of AES-256-GCM encryption and HMAC-SHA256 lookup hashes of personal data. */
export interface DataProtectionKeys {
  /** Every configured encryption key by key id; old ids stay so old rows remain readable. */
  keys: ReadonlyMap<string, Buffer>;
  /** The key id that encrypts new values and the target of key rotation. */
  currentKeyId: string;
  hashKey: Buffer;
}

export const DATA_KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,32}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;
export const DATA_KEY_BYTES = 32;
export const MIN_HASH_KEY_BYTES = 32;

function decodeBase64(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!BASE64_PATTERN.test(trimmed) || trimmed.length % 4 !== 0) return undefined;
  return Buffer.from(trimmed, 'base64');
}

/**
 * Parses TIMEBANK_DATA_KEYS, TIMEBANK_DATA_KEY_ID and TIMEBANK_DATA_HASH_KEY.
 * The three are set together or not at all; returns undefined when none is set.
 */
export function parseDataProtectionKeys(
  keysJson: string | undefined,
  currentKeyId: string | undefined,
  hashKeyBase64: string | undefined,
  issues: string[],
): DataProtectionKeys | undefined {
  const setCount = [keysJson, currentKeyId, hashKeyBase64].filter((value) => value !== undefined).length;
  if (setCount === 0) return undefined;
  if (setCount < 3) {
    issues.push('TIMEBANK_DATA_KEYS, TIMEBANK_DATA_KEY_ID and TIMEBANK_DATA_HASH_KEY must be set together');
    return undefined;
  }

  let raw: unknown;
  try {
    raw = JSON.parse(keysJson!);
  } catch {
    issues.push('TIMEBANK_DATA_KEYS: not valid JSON; expected an object of key id to base64 key');
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || Object.keys(raw).length === 0) {
    issues.push('TIMEBANK_DATA_KEYS: expected a non-empty object of key id to base64 key');
    return undefined;
  }
  const keys = new Map<string, Buffer>();
  for (const [keyId, value] of Object.entries(raw)) {
    if (!DATA_KEY_ID_PATTERN.test(keyId)) {
      issues.push(`TIMEBANK_DATA_KEYS: key id "${keyId}" must be 1 to 32 letters, digits, dots, underscores or hyphens`);
      continue;
    }
    const key = typeof value === 'string' ? decodeBase64(value) : undefined;
    if (!key || key.length !== DATA_KEY_BYTES) {
      issues.push(`TIMEBANK_DATA_KEYS.${keyId}: must be ${DATA_KEY_BYTES} bytes in base64`);
      continue;
    }
    keys.set(keyId, key);
  }
  if (!keys.has(currentKeyId!)) {
    issues.push(`TIMEBANK_DATA_KEY_ID: "${currentKeyId}" is not a key id of TIMEBANK_DATA_KEYS`);
  }
  const hashKey = decodeBase64(hashKeyBase64!);
  if (!hashKey || hashKey.length < MIN_HASH_KEY_BYTES) {
    issues.push(`TIMEBANK_DATA_HASH_KEY: must be at least ${MIN_HASH_KEY_BYTES} bytes in base64`);
  }
  if (issues.length > 0) return undefined;
  return { keys, currentKeyId: currentKeyId!, hashKey: hashKey! };
}

/** A public JSON Web Key as a trusted issuer publishes it. */
const publicJwkSchema = z.looseObject({
  kty: z.enum(['RSA', 'EC', 'OKP']),
  kid: z.string().min(1).max(200),
  use: z.literal('sig').optional(),
  alg: z.string().optional(),
  // Private key parameters must never be configured here.
  d: z.undefined({ error: 'private key material (d) is not allowed' }),
});

export const jwksSchema = z.object({ keys: z.array(publicJwkSchema).min(1) });

export type JsonWebKeySet = z.infer<typeof jwksSchema>;

/** An upstream issuer of tokens for elders and volunteers, with its keys inline or in a file. */
export type TrustedIssuer = { issuer: string; jwks: JsonWebKeySet } | { issuer: string; jwksFile: string };

/**
 * Parses TIMEBANK_TRUSTED_ISSUERS: a JSON object whose keys are issuer names
 * (the `iss` claim) and whose values are a JWKS object or the path of a JWKS
 * file. The local issuer's name is reserved for tokens this service signs.
 */
export function parseTrustedIssuers(json: string | undefined, localIssuer: string, issues: string[]): TrustedIssuer[] {
  if (json === undefined) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    issues.push('TIMEBANK_TRUSTED_ISSUERS: not valid JSON; expected an object of issuer to JWKS or JWKS file path');
    return [];
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    issues.push('TIMEBANK_TRUSTED_ISSUERS: expected an object of issuer to JWKS or JWKS file path');
    return [];
  }
  const issuers: TrustedIssuer[] = [];
  for (const [issuer, value] of Object.entries(raw)) {
    if (issuer === localIssuer) {
      issues.push(`TIMEBANK_TRUSTED_ISSUERS: "${issuer}" is the local issuer (TIMEBANK_JWT_ISSUER) and cannot be an upstream one`);
      continue;
    }
    if (typeof value === 'string' && value.trim().length > 0) {
      issuers.push({ issuer, jwksFile: value });
      continue;
    }
    const parsed = jwksSchema.safeParse(value);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      issues.push(`TIMEBANK_TRUSTED_ISSUERS.${issuer}.${first.path.join('.')}: ${first.message}`);
      continue;
    }
    issuers.push({ issuer, jwks: parsed.data });
  }
  return issuers;
}
