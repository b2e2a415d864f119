import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { findPerson, resealPersonalData, sealLegacyPersonalData } from '../db/persons';
import { makeResidentId } from '../domain/resident-id';
import { PersonalDataError } from '../runtime/personal-data';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  expectProblem,
  Member,
  newElder,
  registrationBody,
  staffTokens,
  Tokens,
} from './support/api-fixtures';
import { DISTRICT, insertPerson, STREET, TEST_DATA_ENV, testCipher } from './support/fixtures';

const execFileAsync = promisify(execFile);

/*
 * Resident ID and phone numbers are stored as AES-256-GCM ciphertext, found
 * by their lookup hash, shown only through an audited reveal, and stay
 * readable across a key rotation. Staff reads land in an append-only log.
 */

let api: ApiEnv;
let tokens: Tokens;
let elder: Member;

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  elder = await newElder(api);
});

afterAll(async () => {
  await api?.stop();
});

const db = () => api.db.orm.em.fork();

interface StoredColumns {
  resident_id_plain: string | null;
  phone_plain: string | null;
  resident_id_cipher: Buffer;
  resident_id_key_id: string;
  resident_id_hash: string;
  phone_cipher: Buffer;
  phone_key_id: string;
  phone_hash: string;
}

async function storedColumns(personId: string): Promise<StoredColumns> {
  const [row] = await db().execute<StoredColumns[]>(
    `select resident_id_plain, phone_plain, resident_id_cipher, resident_id_key_id, resident_id_hash,
       phone_cipher, phone_key_id, phone_hash from person where id = ?`,
    [personId],
  );
  return row;
}

/** Every cell of the person table as text, ciphertexts as raw bytes, to search for plain values. */
async function personTableText(): Promise<string> {
  const rows = await db().execute<Array<Record<string, unknown>>>(`select * from person`);
  return rows
    .flatMap((row) => Object.values(row).map((value) => (Buffer.isBuffer(value) ? value.toString('latin1') : String(value))))
    .join('\n');
}

/** A resident ID number whose check character is X, for the case-insensitive lookup. */
function residentIdEndingInX(): string {
  for (let sequence = 0; sequence < 1000; sequence += 1) {
    const id = makeResidentId(DISTRICT, '1946-07-08', sequence);
    if (id.endsWith('X')) return id;
  }
  throw new Error('no sequence gives check character X');
}

describe('columns at rest', () => {
  let body: Record<string, unknown>;
  let personId: string;

  beforeAll(async () => {
    body = registrationBody('1947-05-06');
    const res = await api.call('POST', '/v1/elders', { token: tokens.reviewer, body });
    expect(res.status).toBe(201);
    personId = res.body.id;
  });

  test('plain columns empty', async () => {
    const row = await storedColumns(personId);

    expect(row.resident_id_plain).toBeNull();
    expect(row.phone_plain).toBeNull();
  });

  test('ciphertext differs from value', async () => {
    const row = await storedColumns(personId);

    expect(row.resident_id_cipher.toString('latin1')).not.toContain(body.residentId as string);
    expect(row.phone_cipher.toString('latin1')).not.toContain(body.phone as string);
    // Format byte, 12-byte IV, 16-byte tag, then one ciphertext byte per plaintext byte.
    expect(row.resident_id_cipher.length).toBe(29 + 18);
    expect(row.phone_cipher.length).toBe(29 + 11);
  });

  test('no table cell holds the values', async () => {
    const text = await personTableText();

    expect(text).not.toContain(body.residentId as string);
    expect(text).not.toContain(body.phone as string);
  });

  test('key id is current', async () => {
    const row = await storedColumns(personId);

    expect(row.resident_id_key_id).toBe('test-1');
    expect(row.phone_key_id).toBe('test-1');
  });

  test('hash matches keyed lookup', async () => {
    const row = await storedColumns(personId);

    expect(row.resident_id_hash).toBe(testCipher().lookupHash('residentId', body.residentId as string));
    expect(row.phone_hash).toBe(testCipher().lookupHash('phone', body.phone as string));
    expect(row.resident_id_hash).toMatch(/^[0-9a-f]{64}$/);
  });

  test('decrypts to registered values', async () => {
    const person = await findPerson(db(), testCipher(), personId);

    expect(person?.residentId).toBe(body.residentId);
    expect(person?.phone).toBe(body.phone);
  });

  test('same ID twice rejected by hash', async () => {
    const res = await api.call('POST', '/v1/elders', { token: tokens.reviewer, body: { ...body, phone: '13911112222' } });

    expectProblem(res, 409, 'RESIDENT_ID_TAKEN');
  });

  test('lowercase x finds same person', async () => {
    const id = residentIdEndingInX();
    const first = await api.call('POST', '/v1/elders', { token: tokens.reviewer, body: { ...registrationBody('1946-07-08'), residentId: id } });
    expect(first.status).toBe(201);

    const again = await api.call('POST', '/v1/elders', {
      token: tokens.reviewer,
      body: { ...registrationBody('1946-07-08'), residentId: id.toLowerCase() },
    });

    expectProblem(again, 409, 'RESIDENT_ID_TAKEN');
  });

  test('responses are masked', async () => {
    const res = await api.call('GET', `/v1/persons/${personId}`, { token: tokens.reviewer });

    expect(res.body.residentId).toBe(`${(body.residentId as string).slice(0, 3)}${'*'.repeat(11)}${(body.residentId as string).slice(14)}`);
    expect(res.body.phone).toBe(`${(body.phone as string).slice(0, 3)}****${(body.phone as string).slice(7)}`);
  });
});

describe('cipher', () => {
  const cipher = testCipher();
  const personId = randomUUID();

  test('round trip', () => {
    const sealed = cipher.seal(personId, 'phone', '13800138000');

    expect(cipher.open(personId, 'phone', sealed)).toBe('13800138000');
  });

  test('random IV per seal', () => {
    const first = cipher.seal(personId, 'phone', '13800138000');
    const second = cipher.seal(personId, 'phone', '13800138000');

    expect(first.ciphertext.equals(second.ciphertext)).toBe(false);
  });

  test('other row fails', () => {
    const sealed = cipher.seal(personId, 'phone', '13800138000');

    expect(() => cipher.open(randomUUID(), 'phone', sealed)).toThrow(PersonalDataError);
  });

  test('other field fails', () => {
    const sealed = cipher.seal(personId, 'phone', '13800138000');

    expect(() => cipher.open(personId, 'residentId', sealed)).toThrow(PersonalDataError);
  });

  test('flipped byte fails', () => {
    const sealed = cipher.seal(personId, 'phone', '13800138000');
    sealed.ciphertext[sealed.ciphertext.length - 1] ^= 1;

    expect(() => cipher.open(personId, 'phone', sealed)).toThrow(PersonalDataError);
  });

  test('unknown key id fails', () => {
    const sealed = cipher.seal(personId, 'phone', '13800138000');

    expect(() => cipher.open(personId, 'phone', { ...sealed, keyId: 'gone' })).toThrow(/not configured/);
  });

  test('old key still opens', () => {
    const sealed = testCipher('test-1').seal(personId, 'phone', '13800138000');

    expect(testCipher('test-2').open(personId, 'phone', sealed)).toBe('13800138000');
  });
});

describe('key rotation', () => {
  let ids: string[];

  beforeAll(async () => {
    ids = [];
    for (let i = 0; i < 3; i += 1) ids.push((await insertPerson(api.db.orm, { elder: true })).id);
  });

  test('rotated rows readable', async () => {
    const before = await Promise.all(ids.map((id) => findPerson(db(), testCipher('test-1'), id)));
    const rotated = testCipher('test-2');

    const count = await resealPersonalData(api.db.orm, rotated, { batchSize: 2 });

    expect(count).toBeGreaterThanOrEqual(ids.length);
    for (const [i, id] of ids.entries()) {
      const row = await storedColumns(id);
      expect(row.resident_id_key_id).toBe('test-2');
      expect(row.phone_key_id).toBe('test-2');
      const after = await findPerson(db(), rotated, id);
      expect(after?.residentId).toBe(before[i]?.residentId);
      expect(after?.phone).toBe(before[i]?.phone);
    }
  });

  test('every row under new key', async () => {
    const [{ stale }] = await db().execute<Array<{ stale: string }>>(
      `select count(*) as stale from person where resident_id_key_id <> 'test-2' or phone_key_id <> 'test-2'`,
    );

    expect(Number(stale)).toBe(0);
  });

  test('second run re-seals nothing', async () => {
    expect(await resealPersonalData(api.db.orm, testCipher('test-2'))).toBe(0);
  });

  test('API reads rotated rows', async () => {
    // The running API seals under test-1 but still opens test-2 rows, because both keys are configured.
    const res = await api.call('GET', `/v1/persons/${ids[0]}`, { token: tokens.reviewer });

    expect(res.status).toBe(200);
    expect(res.body.residentId).toMatch(/^\d{3}\*{11}[\dX]{4}$/);
  });

  test('rotate back to first key', async () => {
    const count = await resealPersonalData(api.db.orm, testCipher('test-1'));

    expect(count).toBeGreaterThanOrEqual(ids.length);
    expect((await storedColumns(ids[0])).resident_id_key_id).toBe('test-1');
  });

  test('rotate-keys command', async () => {
    const { stdout } = await execFileAsync(
      process.execPath,
      [require.resolve('ts-node/dist/bin'), '--transpile-only', 'scripts/rotate-keys.ts'],
      {
        cwd: join(__dirname, '..'),
        env: { ...process.env, ...TEST_DATA_ENV, TIMEBANK_DATA_KEY_ID: 'test-2', DATABASE_URL: api.db.url },
      },
    );

    // The rows are back under test-1, so the command has every one of them to move.
    const resealed = Number(/re-encrypted (\d+) rows under key id test-2/.exec(stdout)?.[1]);
    expect(resealed).toBeGreaterThanOrEqual(ids.length);
    expect((await storedColumns(ids[1])).phone_key_id).toBe('test-2');
    expect((await findPerson(db(), testCipher(), ids[1]))?.phone).toMatch(/^170\d{8}$/);
  });
});

describe('legacy plain rows', () => {
  test('sealed at startup step', async () => {
    const id = randomUUID();
    await db().execute(
      `insert into person (id, resident_id_plain, phone_plain, name, birth_date, district_code, street_code, address, is_elder)
       values (?, '110105194001010018', '13912345678', '旧数据', '1940-01-01', ?, ?, '旧地址', true)`,
      [id, DISTRICT, STREET],
    );

    const sealed = await sealLegacyPersonalData(api.db.orm, testCipher());

    expect(sealed).toBe(1);
    const row = await storedColumns(id);
    expect(row.resident_id_plain).toBeNull();
    expect(row.phone_plain).toBeNull();
    const person = await findPerson(db(), testCipher(), id);
    expect(person?.residentId).toBe('110105194001010018');
    expect(person?.phone).toBe('13912345678');
  });

  test('half-sealed row rejected', async () => {
    const insert = db().execute(
      `insert into person (id, resident_id_plain, phone_plain, resident_id_hash, name, birth_date, district_code,
         street_code, address) values (?, '110105194001010026', '13912345679', 'abc', 'x', '1940-01-01', ?, ?, 'x')`,
      [randomUUID(), DISTRICT, STREET],
    );

    await expect(insert).rejects.toThrow(/person_resident_id_sealed/);
  });
});

async function accessLogRows(personId: string) {
  return db().execute<Array<{ id: string; actor_id: string; action: string; fields: string[]; reason: string | null }>>(
    `select id, actor_id, action, fields, reason from personal_data_access_log where person_id = ? order by id`,
    [personId],
  );
}

describe('reveal', () => {
  let reviewerId: string;
  let reviewerToken: string;
  let person: { id: string; residentId: string; phone: string };

  beforeAll(async () => {
    reviewerId = randomUUID();
    reviewerToken = await api.token({ sub: reviewerId, role: 'street_reviewer', district: DISTRICT });
    person = await insertPerson(api.db.orm, { elder: true });
  });

  test('returns full ID number', async () => {
    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, {
      token: reviewerToken,
      body: { field: 'residentId', reason: '核对身份' },
    });

    expect(res.status).toBe(200);
    expect(res.body.value).toBe(person.residentId);
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  test('returns full phone', async () => {
    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, {
      token: reviewerToken,
      body: { field: 'phone', reason: '电话回访' },
    });

    expect(res.status).toBe(200);
    expect(res.body.value).toBe(person.phone);
  });

  test('logs who, what and why', async () => {
    const rows = await accessLogRows(person.id);
    const reveals = rows.filter((r) => r.action === 'reveal');

    expect(reveals).toHaveLength(2);
    expect(reveals[0].actor_id).toBe(reviewerId);
    expect(reveals[0].fields).toEqual(['residentId']);
    expect(reveals[0].reason).toBe('核对身份');
    expect(reveals[1].fields).toEqual(['phone']);
  });

  test('missing reason rejected', async () => {
    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, { token: reviewerToken, body: { field: 'phone' } });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.reason');
  });

  test('unknown field rejected', async () => {
    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, {
      token: reviewerToken,
      body: { field: 'address', reason: '核对' },
    });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.field');
  });

  test('other district gets 404', async () => {
    const before = (await accessLogRows(person.id)).length;

    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, {
      token: tokens.otherReviewer,
      body: { field: 'phone', reason: '核对' },
    });

    expectProblem(res, 404, 'PERSON_NOT_FOUND');
    expect(await accessLogRows(person.id)).toHaveLength(before);
  });

  test('operator forbidden', async () => {
    const res = await api.call('POST', `/v1/persons/${person.id}/reveal`, {
      token: tokens.operator,
      body: { field: 'phone', reason: '核对' },
    });

    expectProblem(res, 403, 'FORBIDDEN');
  });

  test('person may not reveal', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/reveal`, { token: elder.token, body: { field: 'phone', reason: '本人' } });

    expectProblem(res, 403, 'FORBIDDEN');
  });
});

describe('staff view logged', () => {
  test('staff read adds view entry', async () => {
    const person = await insertPerson(api.db.orm, { elder: true });

    const res = await api.call('GET', `/v1/persons/${person.id}`, { token: tokens.officer });

    expect(res.status).toBe(200);
    const rows = await accessLogRows(person.id);
    expect(rows).toHaveLength(1);
    expect(rows[0].action).toBe('view');
    expect(rows[0].fields).toContain('residentId');
  });

  test('own read not logged', async () => {
    const res = await api.call('GET', `/v1/persons/${elder.id}`, { token: elder.token });

    expect(res.status).toBe(200);
    expect(await accessLogRows(elder.id)).toHaveLength(0);
  });

  test('refused read not logged', async () => {
    const person = await insertPerson(api.db.orm, { elder: true });

    const res = await api.call('GET', `/v1/persons/${person.id}`, { token: tokens.otherOfficer });

    expect(res.status).toBe(404);
    expect(await accessLogRows(person.id)).toHaveLength(0);
  });
});

describe('access log', () => {
  let personId: string;

  beforeAll(async () => {
    personId = (await insertPerson(api.db.orm, { elder: true })).id;
    const res = await api.call('POST', `/v1/persons/${personId}/reveal`, { token: tokens.reviewer, body: { field: 'phone', reason: '回访' } });
    expect(res.status).toBe(200);
  });

  test('update refused', async () => {
    await expect(db().execute(`update personal_data_access_log set reason = 'x' where person_id = ?`, [personId])).rejects.toThrow(
      /append-only/,
    );
  });

  test('delete refused', async () => {
    await expect(db().execute(`delete from personal_data_access_log where person_id = ?`, [personId])).rejects.toThrow(/append-only/);
  });

  test('truncate refused', async () => {
    await expect(db().execute(`truncate personal_data_access_log`)).rejects.toThrow(/append-only/);
  });

  test('operator queries by person', async () => {
    const res = await api.call('GET', `/v1/ops/access-log?personId=${personId}`, { token: tokens.operator });

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(1);
    expect(res.body.items[0].action).toBe('reveal');
    expect(res.body.items[0].fields).toEqual(['phone']);
    expect(res.body.items[0].reason).toBe('回访');
  });

  test('entries carry no values', async () => {
    const person = await findPerson(db(), testCipher(), personId);

    const res = await api.call('GET', `/v1/ops/access-log?personId=${personId}`, { token: tokens.operator });

    expect(JSON.stringify(res.body)).not.toContain(person!.phone);
  });

  test('filter by action', async () => {
    const res = await api.call('GET', `/v1/ops/access-log?personId=${personId}&action=view`, { token: tokens.operator });

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
  });

  test('bad filter named', async () => {
    const res = await api.call('GET', '/v1/ops/access-log?from=yesterday', { token: tokens.operator });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'query.from');
  });

  test('reviewer forbidden', async () => {
    const res = await api.call('GET', '/v1/ops/access-log', { token: tokens.reviewer });

    expectProblem(res, 403, 'FORBIDDEN');
  });
});

describe('logger', () => {
  test('masks numbers in text', async () => {
    const { createLogger } = await import('../runtime/logger');
    const lines: string[] = [];
    const logger = createLogger('info', 'mask-test', { write: (line: string) => void lines.push(line) });

    logger.info({ residentId: '110105194001010018', note: 'call 13912345678', err: new Error('id 110105194001010018') }, 'phone 13912345678');

    const text = lines.join('');
    expect(text).not.toContain('110105194001010018');
    expect(text).not.toContain('13912345678');
    expect(text).toContain('139****5678');
  });

  test('redacts tokens and passwords', async () => {
    const { createLogger } = await import('../runtime/logger');
    const lines: string[] = [];
    const logger = createLogger('info', 'redact-test', { write: (line: string) => void lines.push(line) });

    logger.info({ req: { headers: { authorization: 'Bearer abc.def.ghi' } }, password: 'hunter2-hunter2', token: 'xyz' }, 'sign-in');

    const text = lines.join('');
    expect(text).not.toContain('abc.def.ghi');
    expect(text).not.toContain('hunter2-hunter2');
    expect(text).not.toContain('"xyz"');
  });
});
