/**
 * Creates a staff account that signs in with a password at POST /v1/staff/sessions:
 *   TIMEBANK_STAFF_PASSWORD=... npm run add-staff -- --login li.si --name 李四 --role street_reviewer --district 110105
 * The password comes from the environment, never from the command line, where
 * other users of the machine could read it. Needs DATABASE_URL.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { openOrm } from '../db/orm';
import { createStaffAccount, LoginTakenError } from '../db/staff';
import { loadConfig } from '../domain/config';

const argsSchema = z
  .object({
    login: z.string().regex(/^[a-z0-9._-]{3,64}$/, 'must be 3 to 64 lowercase letters, digits, dots, underscores or hyphens'),
    name: z.string().trim().min(1).max(50),
    role: z.enum(['street_reviewer', 'district_officer', 'city_admin', 'operator']),
    district: z.string().regex(/^[0-9]{6}$/, 'must be a 6-digit district code').optional(),
    password: z.string({ error: 'is not set; put the new password in it' }).min(12, 'must be at least 12 characters').max(200),
  })
  .refine((a) => a.district !== undefined || a.role === 'city_admin' || a.role === 'operator', {
    message: 'street reviewers and district officers need --district',
    path: ['district'],
  });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { login: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' }, district: { type: 'string' } },
  });
  const parsed = argsSchema.safeParse({ ...values, password: process.env.TIMEBANK_STAFF_PASSWORD });
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => {
      const name = i.path[0] === 'password' ? 'TIMEBANK_STAFF_PASSWORD' : `--${i.path.join('.')}`;
      return `${name}: ${i.message}`;
    });
    throw new Error(issues.join('; '));
  }
  const args = parsed.data;
  const config = loadConfig();
  if (!config.databaseUrl) throw new Error('DATABASE_URL must be set');
  const orm = await openOrm(config.databaseUrl, 1);
  try {
    const id = await createStaffAccount(orm.em.fork(), {
      name: args.name,
      role: args.role,
      districtCode: args.district ?? null,
      login: args.login,
      password: args.password,
    });
    process.stdout.write(`created ${args.role} ${args.login} with id ${id}\n`);
  } catch (err) {
    if (err instanceof LoginTakenError) throw new Error(`--login: ${args.login} is already in use`);
    throw err;
  } finally {
    await orm.close(true);
  }
}

main().catch((err) => {
  process.stderr.write(`add-staff failed: ${(err as Error).message}\n`);
  process.exit(2);
});
