import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { AppConfig, ConfigError } from '../domain/config';
import { DATA_KEY_BYTES, DataProtectionKeys, parseDataProtectionKeys } from '../domain/secrets-config';

/*
 * Data-protection keys for a local start (npm start, the demo) when the
 * environment configures none. They live in DATA_DIR/data-keys.json, readable
 * by the owner only. A deployment sets TIMEBANK_DATA_KEYS,
 * TIMEBANK_DATA_KEY_ID and TIMEBANK_DATA_HASH_KEY instead.
 */

export const LOCAL_DATA_KEYS_FILE = 'data-keys.json';

interface LocalKeysFile {
  currentKeyId: string;
  keys: Record<string, string>;
  hashKey: string;
}

function keysFilePath(dataDir: string): string {
  return path.join(dataDir, LOCAL_DATA_KEYS_FILE);
}

/** Writes the file through a temporary one, so a crash never leaves half a key file. */
function writeKeysFile(file: string, content: LocalKeysFile): void {
  const temporary = `${file}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
  renameSync(temporary, file);
}

function readKeysFile(file: string): DataProtectionKeys {
  let content: LocalKeysFile;
  try {
    content = JSON.parse(readFileSync(file, 'utf8')) as LocalKeysFile;
  } catch (err) {
    throw new ConfigError([`${file}: not readable JSON (${(err as Error).message})`]);
  }
  const issues: string[] = [];
  const keys = parseDataProtectionKeys(JSON.stringify(content.keys ?? {}), content.currentKeyId, content.hashKey, issues);
  if (!keys) throw new ConfigError(issues.map((issue) => `${file}: ${issue}`));
  return keys;
}

/**
 * Returns `config` with data-protection keys: the configured ones, or those in
 * `dataDir`, created on first use. Losing the file makes every sealed ID and
 * phone number unreadable, so back it up with the database.
 */
export function withLocalDataKeys(config: AppConfig, dataDir: string): AppConfig {
  if (config.dataProtection) return config;
  const file = keysFilePath(dataDir);
  if (!existsSync(file)) {
    writeKeysFile(file, {
      currentKeyId: 'local-1',
      keys: { 'local-1': randomBytes(DATA_KEY_BYTES).toString('base64') },
      hashKey: randomBytes(32).toString('base64'),
    });
  }
  return { ...config, dataProtection: readKeysFile(file) };
}

/**
 * Adds a new encryption key to the local key file and makes it current.
 * The old keys stay, so existing rows remain readable until rotation re-seals
 * them. Returns the new key id.
 */
export function addLocalDataKey(dataDir: string): string {
  const file = keysFilePath(dataDir);
  if (!existsSync(file)) throw new ConfigError([`${file}: no local key file; start the system once to create it`]);
  const content = JSON.parse(readFileSync(file, 'utf8')) as LocalKeysFile;
  let next = Object.keys(content.keys).length + 1;
  while (content.keys[`local-${next}`]) next += 1;
  const keyId = `local-${next}`;
  content.keys[keyId] = randomBytes(DATA_KEY_BYTES).toString('base64');
  content.currentKeyId = keyId;
  writeKeysFile(file, content);
  return keyId;
}
