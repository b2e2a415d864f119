/**
 * Prints a signed bearer token for the demo and for manual testing:
 *   npm run token -- --role street_reviewer --district 110105 [--sub <uuid>] [--ttl 12h]
 * The secret is TIMEBANK_JWT_SECRET, or the one `npm start` keeps in the data folder.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken, ROLES } from '../api/auth';
import { loadConfig } from '../domain/config';
import { repoRoot } from './tools';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      role: { type: 'string' },
      sub: { type: 'string' },
      district: { type: 'string' },
      ttl: { type: 'string', default: '12h' },
    },
  });
  const role = values.role as (typeof ROLES)[number] | undefined;
  if (!role || !ROLES.includes(role)) {
    throw new Error(`--role is required, one of: ${ROLES.join(', ')}`);
  }
  const config = loadConfig();
  const secretFile = path.join(path.resolve(repoRoot(), config.dataDir), 'jwt-secret');
  const secret = config.jwt.secret ?? (existsSync(secretFile) ? readFileSync(secretFile, 'utf8').trim() : undefined);
  if (!secret) {
    throw new Error(`no signing secret: set TIMEBANK_JWT_SECRET or run npm start once to create ${secretFile}`);
  }
  const token = await mintToken(secret, config.jwt.issuer, { sub: values.sub ?? randomUUID(), role, district: values.district }, values.ttl);
  process.stdout.write(`${token}\n`);
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(2);
});
