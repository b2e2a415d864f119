import { randomUUID } from 'node:crypto';
import { checkLedger } from '../db/ledger';
import { ApiEnv, startApiEnv } from './support/api-env';
import { DISTRICT, fund, insertPerson } from './support/fixtures';

let api: ApiEnv;
let reviewer: string;
let officer: string;
let otherOfficer: string;

beforeAll(async () => {
  api = await startApiEnv({ TIMEBANK_MINUTE_MS: '5' });
  reviewer = await api.token({ sub: randomUUID(), role: 'street_reviewer', district: DISTRICT });
  officer = await api.token({ sub: randomUUID(), role: 'district_officer', district: DISTRICT });
  otherOfficer = await api.token({ sub: randomUUID(), role: 'district_officer', district: '110108' });
});

afterAll(async () => {
  await api?.stop();
});

const key = () => `k-${randomUUID()}`;

async function person(opts: NonNullable<Parameters<typeof insertPerson>[1]>, minutes = 0) {
  const p = await insertPerson(api.db.orm, opts);
  if (minutes > 0) await fund(api.db.orm, p.id, minutes);
  const role = opts.elder ? 'elder' : 'volunteer';
  return { ...p, token: await api.token({ sub: p.id, role }) };
}

async function available(personId: string): Promise<number> {
  const res = await api.call('GET', `/v1/accounts/${personId}`, { token: reviewer });
  return res.body.available.minutes;
}

async function relate(from: { id: string; token: string }, toId: string, kind: string, verify: boolean) {
  const claim = await api.call('POST', `/v1/persons/${from.id}/relationships`, { token: from.token, body: { relativeId: toId, kind } });
  expect(claim.status).toBe(201);
  if (verify) {
    const review = await api.call('POST', `/v1/relationships/${claim.body.id}/review`, { token: reviewer, body: { decision: 'verify' } });
    expect(review.body.status).toBe('verified');
  }
  return claim.body.id as string;
}

afterEach(async () => {
  expect((await checkLedger(api.db.orm.em.fork())).problems).toEqual([]);
});

describe('gifts', () => {
  test('unverified relative is refused', async () => {
    const giver = await person({ volunteer: true }, 120);
    const child = await person({ volunteer: true });
    await relate(giver, child.id, 'child', false);
    const res = await api.call('POST', '/v1/gifts', {
      token: giver.token,
      body: { recipientId: child.id, amountMinutes: 60 },
      headers: { 'Idempotency-Key': key() },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('RELATIVE_NOT_VERIFIED');
    expect(await available(giver.id)).toBe(120);
  });

  test('verified relative receives once per key', async () => {
    const giver = await person({ volunteer: true }, 120);
    const parent = await person({ elder: true });
    await relate(giver, parent.id, 'parent', true);
    const k = key();
    const first = await api.call('POST', '/v1/gifts', {
      token: giver.token,
      body: { recipientId: parent.id, amountMinutes: 60 },
      headers: { 'Idempotency-Key': k },
    });
    const retry = await api.call('POST', '/v1/gifts', {
      token: giver.token,
      body: { recipientId: parent.id, amountMinutes: 60 },
      headers: { 'Idempotency-Key': k },
    });
    const changed = await api.call('POST', '/v1/gifts', {
      token: giver.token,
      body: { recipientId: parent.id, amountMinutes: 30 },
      headers: { 'Idempotency-Key': k },
    });
    expect(first.status).toBe(201);
    expect(retry.status).toBe(200);
    expect(retry.body.transferId).toBe(first.body.transferId);
    expect(changed.status).toBe(409);
    expect(changed.body.code).toBe('IDEMPOTENCY_CONFLICT');
    expect(await available(giver.id)).toBe(60);
    expect(await available(parent.id)).toBe(60);
  });

  test('gift beyond balance is refused', async () => {
    const giver = await person({ volunteer: true }, 30);
    const spouse = await person({ volunteer: true });
    await relate(giver, spouse.id, 'spouse', true);
    const res = await api.call('POST', '/v1/gifts', {
      token: giver.token,
      body: { recipientId: spouse.id, amountMinutes: 60 },
      headers: { 'Idempotency-Key': key() },
    });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('INSUFFICIENT_BALANCE');
    expect(await available(spouse.id)).toBe(0);
  });

  test('rejected relationship needs a reason', async () => {
    const giver = await person({ volunteer: true });
    const other = await person({ volunteer: true });
    const id = await relate(giver, other.id, 'child', false);
    const res = await api.call('POST', `/v1/relationships/${id}/review`, { token: reviewer, body: { decision: 'reject' } });
    expect(res.status).toBe(400);
    expect(res.body.field).toBe('body.note');
  });
});

describe('donations and welfare', () => {
  test('donation then allocation to an elder', async () => {
    const donor = await person({ volunteer: true }, 180);
    const elder = await person({ elder: true });
    const donated = await api.call('POST', '/v1/donations', {
      token: donor.token,
      body: { to: DISTRICT, amountMinutes: 120 },
      headers: { 'Idempotency-Key': key() },
    });
    expect(donated.status).toBe(201);
    const allocated = await api.call('POST', '/v1/welfare-allocations', {
      token: officer,
      body: { from: DISTRICT, elderId: elder.id, amountMinutes: 90, reason: '失能老人' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(allocated.status).toBe(201);
    expect(await available(elder.id)).toBe(90);
    expect(await available(donor.id)).toBe(60);
  });

  test('district officer cannot allocate city welfare', async () => {
    const elder = await person({ elder: true });
    const res = await api.call('POST', '/v1/welfare-allocations', {
      token: officer,
      body: { from: 'city', elderId: elder.id, amountMinutes: 60, reason: '测试' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(res.status).toBe(403);
  });

  test('other district cannot allocate here', async () => {
    const elder = await person({ elder: true });
    const res = await api.call('POST', '/v1/welfare-allocations', {
      token: otherOfficer,
      body: { from: DISTRICT, elderId: elder.id, amountMinutes: 60, reason: '测试' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(res.status).toBe(403);
  });
});

describe('grants', () => {
  test('grant over the yearly cap is refused', async () => {
    const elder = await person({ elder: true });
    const ok = await api.call('POST', '/v1/grants', {
      token: officer,
      body: { elderId: elder.id, amountMinutes: 7000, reason: '高龄' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(ok.status).toBe(201);
    const over = await api.call('POST', '/v1/grants', {
      token: officer,
      body: { elderId: elder.id, amountMinutes: 300, reason: '高龄' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(over.status).toBe(400);
    expect(over.body.field).toBe('body.amountMinutes');
    expect(await available(elder.id)).toBe(7000);
  });

  test('concurrent grants stay under the cap', async () => {
    const elder = await person({ elder: true });
    const results = await Promise.all(
      Array.from({ length: 6 }, () =>
        api.call('POST', '/v1/grants', {
          token: officer,
          body: { elderId: elder.id, amountMinutes: 2000, reason: '困难老人' },
          headers: { 'Idempotency-Key': key() },
        }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 400)).toHaveLength(3);
    expect(await available(elder.id)).toBe(6000);
  });
});

describe('redemption for oneself', () => {
  const order = () => ({
    category: 'assistance',
    description: '帮忙取药',
    scheduledStart: new Date(Date.now() + 400 * 5).toISOString(),
    bookedMinutes: 60,
  });

  test('volunteer under 60 is refused', async () => {
    const volunteer = await person({ volunteer: true, birthDate: '1980-01-01' }, 120);
    const res = await api.call('POST', '/v1/orders', { token: volunteer.token, body: order(), headers: { 'Idempotency-Key': key() } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe('REDEMPTION_NOT_ALLOWED');
    const rows = await api.db.orm.em.fork().execute(`select id from service_order where elder_id = ?`, [volunteer.id]);
    expect(rows).toHaveLength(0);
  });

  test('spouse of 60 allows redemption', async () => {
    const volunteer = await person({ volunteer: true, birthDate: '1970-01-01' }, 120);
    const spouse = await person({ volunteer: true, birthDate: '1955-06-01' });
    await relate(volunteer, spouse.id, 'spouse', true);
    const res = await api.call('POST', '/v1/orders', { token: volunteer.token, body: order(), headers: { 'Idempotency-Key': key() } });
    expect(res.status).toBe(201);
    expect(res.body.elderId).toBe(volunteer.id);
    const cancel = await api.call('POST', `/v1/orders/${res.body.id}/cancel`, { token: volunteer.token, body: {} });
    expect(cancel.body.status).toBe('cancelled');
    expect(cancel.body.cancelReason).toBe('by_elder');
  });

  test('volunteer of 60 may redeem', async () => {
    const volunteer = await person({ volunteer: true, birthDate: '1960-01-01' }, 120);
    const res = await api.call('POST', '/v1/orders', { token: volunteer.token, body: order(), headers: { 'Idempotency-Key': key() } });
    expect(res.status).toBe(201);
    await api.call('POST', `/v1/orders/${res.body.id}/cancel`, { token: volunteer.token, body: {} });
  });
});

describe('compensating reversals', () => {
  test('grant reversal is capped by the original', async () => {
    const elder = await person({ elder: true });
    const grant = await api.call('POST', '/v1/grants', {
      token: officer,
      body: { elderId: elder.id, amountMinutes: 120, reason: '误发' },
      headers: { 'Idempotency-Key': key() },
    });
    const first = await api.call('POST', '/v1/reversals', {
      token: officer,
      body: { transferId: grant.body.transferId, amountMinutes: 90, reason: '核实为骗取' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(first.status).toBe(201);
    const second = await api.call('POST', '/v1/reversals', {
      token: officer,
      body: { transferId: grant.body.transferId, amountMinutes: 60, reason: '核实为骗取' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(second.status).toBe(400);
    expect(second.body.field).toBe('body.amountMinutes');
    expect(await available(elder.id)).toBe(30);
  });

  test('reversal needs a district officer', async () => {
    const elder = await person({ elder: true });
    const res = await api.call('POST', '/v1/reversals', {
      token: elder.token,
      body: { transferId: 'x', amountMinutes: 1, reason: 'x' },
      headers: { 'Idempotency-Key': key() },
    });
    expect(res.status).toBe(403);
  });
});
