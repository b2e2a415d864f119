import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decodeJwt, exportJWK, generateKeyPair, JWK, KeyLike, SignJWT } from 'jose';
import { createStaffAccount } from '../db/staff';
import { ConfigError, loadConfig } from '../domain/config';
import { ApiEnv, startApiEnv, TEST_JWT_SECRET } from './support/api-env';
import { API_ENV, DISTRICT, expectProblem, Member, newElder } from './support/api-fixtures';

/*
 * Elders and volunteers sign in upstream: their tokens come from a trusted
 * issuer whose keys are configured inline or in a JWKS file that may be
 * rotated while the API runs. Staff sign in here with a password, get a
 * 15-minute token, and are slowed down after repeated failures.
 */

const INLINE_ISSUER = 'https://id.inline.test';
const FILE_ISSUER = 'https://id.file.test';

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  jwk: JWK;
}

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, use: 'sig', alg: 'ES256' } };
}

function upstreamToken(
  key: SigningKey,
  issuer: string,
  claims: Record<string, unknown>,
  opts: { expiresIn?: string | number; noExpiry?: boolean } = {},
): Promise<string> {
  const jwt = new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: key.kid }).setIssuer(issuer).setIssuedAt();
  if (!opts.noExpiry) jwt.setExpirationTime(opts.expiresIn ?? '10m');
  return jwt.sign(key.privateKey);
}

let api: ApiEnv;
let inlineKey: SigningKey;
let fileKey: SigningKey;
let jwksFile: string;
let elder: Member;

beforeAll(async () => {
  inlineKey = await signingKey('inline-1');
  fileKey = await signingKey('file-1');
  jwksFile = join(mkdtempSync(join(tmpdir(), 'timebank-jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [fileKey.jwk] }));
  api = await startApiEnv({
    ...API_ENV,
    TIMEBANK_TRUSTED_ISSUERS: JSON.stringify({ [INLINE_ISSUER]: { keys: [inlineKey.jwk] }, [FILE_ISSUER]: jwksFile }),
  });
  elder = await newElder(api);
});

afterAll(async () => {
  await api?.stop();
  rmSync(dirname(jwksFile), { recursive: true, force: true });
});

const readAccount = (token: string) => api.call('GET', `/v1/accounts/${elder.id}`, { token });

describe('upstream issuer', () => {
  test('inline key accepted', async () => {
    const res = await readAccount(await upstreamToken(inlineKey, INLINE_ISSUER, { sub: elder.id, role: 'elder' }));

    expect(res.status).toBe(200);
    expect(res.body.personId).toBe(elder.id);
  });

  test('file key accepted', async () => {
    const res = await readAccount(await upstreamToken(fileKey, FILE_ISSUER, { sub: elder.id, role: 'elder' }));

    expect(res.status).toBe(200);
  });

  test('expired token refused', async () => {
    const token = await upstreamToken(inlineKey, INLINE_ISSUER, { sub: elder.id, role: 'elder' }, { expiresIn: Math.floor(Date.now() / 1000) - 120 });

    const res = await readAccount(token);

    expectProblem(res, 401, 'UNAUTHENTICATED');
    expect(res.body.technicalDetail).toMatch(/expired/);
  });

  test('token without expiry refused', async () => {
    const res = await readAccount(await upstreamToken(inlineKey, INLINE_ISSUER, { sub: elder.id, role: 'elder' }, { noExpiry: true }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
  });

  test('staff role refused', async () => {
    const res = await readAccount(await upstreamToken(inlineKey, INLINE_ISSUER, { sub: randomUUID(), role: 'city_admin' }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
    expect(res.body.technicalDetail).toMatch(/may not assert role city_admin/);
  });

  test('unknown issuer refused', async () => {
    const res = await readAccount(await upstreamToken(inlineKey, 'https://id.other.test', { sub: elder.id, role: 'elder' }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
    expect(res.body.technicalDetail).toMatch(/not trusted/);
  });

  test('key of other issuer refused', async () => {
    const res = await readAccount(await upstreamToken(fileKey, INLINE_ISSUER, { sub: elder.id, role: 'elder' }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
  });

  test('forged key with same kid refused', async () => {
    const forged = { ...(await signingKey('inline-1')) };

    const res = await readAccount(await upstreamToken(forged, INLINE_ISSUER, { sub: elder.id, role: 'elder' }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
  });

  test('HS256 with upstream issuer refused', async () => {
    // A token signed with the local secret is never accepted in an upstream issuer's name.
    const token = await new SignJWT({ role: 'elder' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(elder.id)
      .setIssuer(INLINE_ISSUER)
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));

    const res = await readAccount(token);

    expectProblem(res, 401, 'UNAUTHENTICATED');
  });

  test('local issuer still accepted', async () => {
    const res = await readAccount(elder.token);

    expect(res.status).toBe(200);
  });
});

describe('JWKS file rotation', () => {
  let nextKey: SigningKey;

  beforeAll(async () => {
    nextKey = await signingKey('file-2');
    writeFileSync(jwksFile, JSON.stringify({ keys: [nextKey.jwk] }));
    // The file is checked for changes every 5 s.
    await new Promise((resolve) => setTimeout(resolve, 5_500));
  });

  test('new key accepted', async () => {
    const res = await readAccount(await upstreamToken(nextKey, FILE_ISSUER, { sub: elder.id, role: 'elder' }));

    expect(res.status).toBe(200);
  });

  test('removed key refused', async () => {
    const res = await readAccount(await upstreamToken(fileKey, FILE_ISSUER, { sub: elder.id, role: 'elder' }));

    expectProblem(res, 401, 'UNAUTHENTICATED');
  });

  test('broken file keeps keys', async () => {
    writeFileSync(jwksFile, '{ not json');
    await new Promise((resolve) => setTimeout(resolve, 5_500));

    const res = await readAccount(await upstreamToken(nextKey, FILE_ISSUER, { sub: elder.id, role: 'elder' }));

    expect(res.status).toBe(200);
  });
});

describe('key configuration', () => {
  const base = { TIMEBANK_JWT_SECRET: TEST_JWT_SECRET };
  const dataKeys = {
    TIMEBANK_DATA_KEYS: JSON.stringify({ k1: Buffer.alloc(32, 7).toString('base64') }),
    TIMEBANK_DATA_KEY_ID: 'k1',
    TIMEBANK_DATA_HASH_KEY: Buffer.alloc(32, 8).toString('base64'),
  };

  function configIssues(env: Record<string, string>): string[] {
    try {
      loadConfig({ ...base, ...env });
    } catch (err) {
      if (err instanceof ConfigError) return err.issues;
      throw err;
    }
    return [];
  }

  test('valid data keys load', () => {
    const config = loadConfig({ ...base, ...dataKeys });

    expect(config.dataProtection?.currentKeyId).toBe('k1');
    expect(config.dataProtection?.keys.get('k1')?.length).toBe(32);
  });

  test('partial data keys refused', () => {
    expect(configIssues({ TIMEBANK_DATA_KEYS: dataKeys.TIMEBANK_DATA_KEYS })).toEqual([
      'TIMEBANK_DATA_KEYS, TIMEBANK_DATA_KEY_ID and TIMEBANK_DATA_HASH_KEY must be set together',
    ]);
  });

  test('short key refused', () => {
    const issues = configIssues({ ...dataKeys, TIMEBANK_DATA_KEYS: JSON.stringify({ k1: Buffer.alloc(16).toString('base64') }) });

    expect(issues.join()).toMatch(/TIMEBANK_DATA_KEYS\.k1: must be 32 bytes/);
  });

  test('unknown current id refused', () => {
    expect(configIssues({ ...dataKeys, TIMEBANK_DATA_KEY_ID: 'k9' }).join()).toMatch(/TIMEBANK_DATA_KEY_ID/);
  });

  test('short hash key refused', () => {
    expect(configIssues({ ...dataKeys, TIMEBANK_DATA_HASH_KEY: 'c2hvcnQ=' }).join()).toMatch(/TIMEBANK_DATA_HASH_KEY/);
  });

  test('issues never echo keys', () => {
    const secret = Buffer.alloc(16, 9).toString('base64');

    expect(configIssues({ ...dataKeys, TIMEBANK_DATA_KEYS: JSON.stringify({ k1: secret }) }).join()).not.toContain(secret);
  });

  test('private JWK refused', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const jwk = { ...(await exportJWK(privateKey)), kid: 'p1' };

    const issues = configIssues({ TIMEBANK_TRUSTED_ISSUERS: JSON.stringify({ [INLINE_ISSUER]: { keys: [jwk] } }) });

    expect(issues.join()).toMatch(/private key material/);
  });

  test('local issuer name refused', () => {
    const issues = configIssues({ TIMEBANK_TRUSTED_ISSUERS: JSON.stringify({ timebank: { keys: [inlineKey.jwk] } }) });

    expect(issues.join()).toMatch(/local issuer/);
  });
});

describe('staff sign-in', () => {
  const PASSWORD = 'a long staff password 42';
  let staffId: string;

  beforeAll(async () => {
    staffId = await createStaffAccount(api.db.orm.em.fork(), {
      name: '张审核',
      role: 'street_reviewer',
      districtCode: DISTRICT,
      login: 'zhang.shenhe',
      password: PASSWORD,
    });
  });

  beforeEach(async () => {
    await api.db.orm.em.fork().execute(`delete from staff_sign_in_failure`);
  });

  const signIn = (body: Record<string, unknown>) => api.call('POST', '/v1/staff/sessions', { body });

  test('login and password accepted', async () => {
    const res = await signIn({ login: 'zhang.shenhe', password: PASSWORD });

    expect(res.status).toBe(201);
    expect(res.body.role).toBe('street_reviewer');
    expect(res.body.districtCode).toBe(DISTRICT);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('token lasts 15 minutes', async () => {
    const res = await signIn({ login: 'zhang.shenhe', password: PASSWORD });
    const claims = decodeJwt(res.body.accessToken);

    expect(res.body.expiresIn).toBe(900);
    expect(claims.exp! - claims.iat!).toBe(900);
    expect(claims.sub).toBe(staffId);
    expect(claims.district).toBe(DISTRICT);
  });

  test('token opens staff routes', async () => {
    const session = await signIn({ login: 'zhang.shenhe', password: PASSWORD });

    const res = await api.call('GET', `/v1/persons/${elder.id}`, { token: session.body.accessToken });

    expect(res.status).toBe(200);
  });

  test('staff id accepted', async () => {
    const res = await signIn({ staffId, password: PASSWORD });

    expect(res.status).toBe(201);
  });

  test('wrong password refused', async () => {
    const res = await signIn({ login: 'zhang.shenhe', password: 'wrong password' });

    expectProblem(res, 401, 'SIGN_IN_FAILED');
  });

  test('unknown login refused alike', async () => {
    const res = await signIn({ login: 'nobody.here', password: PASSWORD });

    expectProblem(res, 401, 'SIGN_IN_FAILED');
  });

  test('both identifiers named', async () => {
    const res = await signIn({ login: 'zhang.shenhe', staffId, password: PASSWORD });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.login');
  });

  test('no identifier named', async () => {
    const res = await signIn({ password: PASSWORD });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.login');
  });

  test('missing password named', async () => {
    const res = await signIn({ login: 'zhang.shenhe' });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.password');
  });

  test('password stored as scrypt hash', async () => {
    const [row] = await api.db.orm.em
      .fork()
      .execute<Array<{ password_hash: string }>>(`select password_hash from staff where id = ?`, [staffId]);

    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  test('same password, different salt', async () => {
    const otherId = await createStaffAccount(api.db.orm.em.fork(), {
      name: '李审核',
      role: 'street_reviewer',
      districtCode: DISTRICT,
      login: 'li.shenhe',
      password: PASSWORD,
    });

    const rows = await api.db.orm.em
      .fork()
      .execute<Array<{ password_hash: string }>>(`select password_hash from staff where id in (?, ?)`, [staffId, otherId]);

    expect(rows[0].password_hash).not.toBe(rows[1].password_hash);
  });

  test('disabled account refused', async () => {
    const id = await createStaffAccount(api.db.orm.em.fork(), {
      name: '停用',
      role: 'operator',
      login: 'disabled.ops',
      password: PASSWORD,
    });
    await api.db.orm.em.fork().execute(`update staff set disabled_at = now() where id = ?`, [id]);

    const res = await signIn({ login: 'disabled.ops', password: PASSWORD });

    expectProblem(res, 401, 'SIGN_IN_FAILED');
  });
});

describe('sign-in rate limit', () => {
  const PASSWORD = 'another long password 7';

  beforeAll(async () => {
    await createStaffAccount(api.db.orm.em.fork(), {
      name: '王官员',
      role: 'district_officer',
      districtCode: DISTRICT,
      login: 'wang.guanyuan',
      password: PASSWORD,
    });
  });

  beforeEach(async () => {
    await api.db.orm.em.fork().execute(`delete from staff_sign_in_failure`);
  });

  const signIn = (login: string, password: string) => api.call('POST', '/v1/staff/sessions', { body: { login, password } });

  async function fail(login: string, times: number): Promise<void> {
    for (let i = 0; i < times; i += 1) {
      expect((await signIn(login, 'wrong')).status).toBe(401);
    }
  }

  test('sixth try after five failures blocked', async () => {
    await fail('wang.guanyuan', 5);

    const res = await signIn('wang.guanyuan', PASSWORD);

    expectProblem(res, 429, 'TOO_MANY_SIGN_IN_ATTEMPTS');
    const retryAfter = Number(res.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(800);
    expect(retryAfter).toBeLessThanOrEqual(900);
  });

  test('four failures still allowed', async () => {
    await fail('wang.guanyuan', 4);

    const res = await signIn('wang.guanyuan', PASSWORD);

    expect(res.status).toBe(201);
  });

  test('success clears login failures', async () => {
    await fail('wang.guanyuan', 4);
    expect((await signIn('wang.guanyuan', PASSWORD)).status).toBe(201);
    await fail('wang.guanyuan', 4);

    const res = await signIn('wang.guanyuan', PASSWORD);

    expect(res.status).toBe(201);
  });

  test('block lifts when failures age out', async () => {
    await fail('wang.guanyuan', 5);
    await api.db.orm.em.fork().execute(`update staff_sign_in_failure set at = at - interval '16 minutes'`);

    const res = await signIn('wang.guanyuan', PASSWORD);

    expect(res.status).toBe(201);
  });

  test('one address, many logins blocked', async () => {
    for (let i = 0; i < 20; i += 1) {
      expect((await signIn(`guess.${i}`, 'wrong')).status).toBe(401);
    }

    const res = await signIn('wang.guanyuan', PASSWORD);

    expectProblem(res, 429, 'TOO_MANY_SIGN_IN_ATTEMPTS');
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  test('blocked try not counted', async () => {
    await fail('wang.guanyuan', 5);
    await signIn('wang.guanyuan', 'wrong');

    const [{ count }] = await api.db.orm.em
      .fork()
      .execute<Array<{ count: string }>>(`select count(*) as count from staff_sign_in_failure where login = 'wang.guanyuan'`);

    expect(Number(count)).toBe(5);
  });
});
