/**
 * Re-encrypts every resident ID and phone number under the current data key
 * id, so an old key can be removed from the configuration afterwards:
 *   npm run rotate-keys [-- --new-local-key] [-- --all]
 * --new-local-key adds a key to the local key file of npm start (DATA_DIR/data-keys.json)
 *   and makes it current first; deployments set a new TIMEBANK_DATA_KEY_ID instead.
 * --all re-seals every row, not only those under another key id; run it after
 *   changing TIMEBANK_DATA_HASH_KEY, because it also recomputes the lookup hashes.
 * Needs DATABASE_URL. Reading keeps working during the run, because every
 * configured key id stays readable.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openOrm } from '../db/orm';
import { resealPersonalData, sealLegacyPersonalData } from '../db/persons';
import { loadConfig } from '../domain/config';
import { addLocalDataKey, withLocalDataKeys } from '../runtime/local-secrets';
import { PersonalDataCipher } from '../runtime/personal-data';
import { repoRoot } from './tools';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'new-local-key': { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
    },
  });
  let config = loadConfig();
  const databaseUrl = config.databaseUrl;
  if (!databaseUrl) throw new Error('DATABASE_URL must be set to the database whose rows are re-encrypted');
  const dataDir = path.resolve(repoRoot(), config.dataDir);
  if (values['new-local-key']) {
    if (config.dataProtection) throw new Error('--new-local-key applies to the local key file, but TIMEBANK_DATA_KEYS is set');
    const keyId = addLocalDataKey(dataDir);
    process.stdout.write(`added local data key ${keyId} and made it current\n`);
  }
  config = withLocalDataKeys(config, dataDir);
  const cipher = new PersonalDataCipher(config.dataProtection!);

  const orm = await openOrm(databaseUrl, 2);
  try {
    const sealed = await sealLegacyPersonalData(orm, cipher);
    const resealed = await resealPersonalData(orm, cipher, { all: values.all });
    process.stdout.write(
      `encrypted ${sealed} plain-text rows; re-encrypted ${resealed} rows under key id ${cipher.currentKeyId}\n`,
    );
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  process.stderr.write(`rotate-keys failed: ${(err as Error).message}\n`);
  process.exit(1);
});
