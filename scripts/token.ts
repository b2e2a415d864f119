/**
 * Prints a signed bearer token for the demo and for manual testing.
 * The secret is TIMEBANK_JWT_SECRET, or the one `npm start` keeps in the data folder.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { mintToken, ROLES } from '../api/auth';
import { loadConfig } from '../domain/config';
import { repoRoot } from './tools';

const USAGE = `usage: npm run -s token -- --role <role> [--district <code>] [--sub <uuid>] [--ttl <lifetime>]
  --role      one of: ${ROLES.join(', ')}
  --district  six-digit district code; the API requires it for street_reviewer and district_officer
  --sub       the actor's id: a person id for elder and volunteer, an agent account id for agent; a new UUID by default
  --ttl       token lifetime such as 15m, 2h or 12h; default 12h
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      help: { type: 'boolean', default: false },
      role: { type: 'string' },
      sub: { type: 'string' },
      district: { type: 'string' },
      ttl: { type: 'string', default: '12h' },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const role = values.role as (typeof ROLES)[number] | undefined;
  if (!role || !ROLES.includes(role)) {
    throw new Error(`--role is missing or unknown\n${USAGE}`);
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
