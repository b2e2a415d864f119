import { randomUUID } from 'node:crypto';
import { makeResidentId } from '../domain/resident-id';
import { ApiEnv, startApiEnv } from './support/api-env';

// One policy minute lasts 5 ms here, so an hour of service takes 0.3 s.
const MINUTE_MS = 5;
let api: ApiEnv;

beforeAll(async () => {
  api = await startApiEnv({ TIMEBANK_MINUTE_MS: String(MINUTE_MS) });
});

afterAll(async () => {
  await api?.stop();
});

const DISTRICT = '110105';
const STREET = '110105001';
let seq = 100;

async function register(kind: 'elders' | 'volunteers', staffToken: string, birthDate: string) {
  seq += 1;
  const body: Record<string, unknown> = {
    residentId: makeResidentId(DISTRICT, birthDate, seq),
    name: '张三',
    phone: `1710000${String(seq).padStart(4, '0')}`,
    streetCode: STREET,
    address: '朝阳区测试路1号',
  };
  if (kind === 'volunteers') Object.assign(body, { trainedOn: '2024-05-01', fitnessDeclared: true, insurance: 'registry' });
  const res = await api.call('POST', `/v1/${kind}`, { token: staffToken, body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('order runs from request to settlement over HTTP', async () => {
  const reviewer = await api.token({ sub: randomUUID(), role: 'street_reviewer', district: DISTRICT });
  const officer = await api.token({ sub: randomUUID(), role: 'district_officer', district: DISTRICT });
  const elderId = await register('elders', reviewer, '1948-02-03');
  const volunteerId = await register('volunteers', reviewer, '1995-07-08');
  const elder = await api.token({ sub: elderId, role: 'elder' });
  const volunteer = await api.token({ sub: volunteerId, role: 'volunteer' });

  const grant = await api.call('POST', '/v1/grants', {
    token: officer,
    body: { elderId, amountMinutes: 600, reason: '高龄老人补贴' },
    headers: { 'Idempotency-Key': `grant-${elderId}` },
  });
  expect(grant.status).toBe(201);

  const start = new Date(Date.now() + 200 * MINUTE_MS).toISOString();
  const orderBody = { category: 'emotional_comfort', description: '聊天陪伴', scheduledStart: start, bookedMinutes: 60 };
  const key = `order-${randomUUID()}`;
  const created = await api.call('POST', '/v1/orders', { token: elder, body: orderBody, headers: { 'Idempotency-Key': key } });
  expect(created.status).toBe(201);
  const orderId = created.body.id;
  const again = await api.call('POST', '/v1/orders', { token: elder, body: orderBody, headers: { 'Idempotency-Key': key } });
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(orderId);

  const reviewed = await api.call('POST', `/v1/orders/${orderId}/review`, { token: reviewer, body: { decision: 'approve' } });
  expect(reviewed.status).toBe(200);
  expect(reviewed.body.status).toBe('open');

  const accepted = await api.call('POST', `/v1/orders/${orderId}/accept`, { token: volunteer, body: {} });
  expect(accepted.status).toBe(200);
  expect(accepted.body.status).toBe('matched');

  await sleep(Date.parse(start) - Date.now() - 10 * MINUTE_MS);
  const signedIn = await api.call('POST', `/v1/orders/${orderId}/sign-in`, { token: volunteer, body: {} });
  expect(signedIn.body.status).toBe('in_service');
  await sleep(65 * MINUTE_MS);
  const signedOut = await api.call('POST', `/v1/orders/${orderId}/sign-out`, { token: volunteer, body: {} });
  expect(signedOut.body.status).toBe('awaiting_rating');
  const rated = await api.call('POST', `/v1/orders/${orderId}/rating`, { token: elder, body: { rating: 5 } });
  expect(rated.status).toBe(200);
  expect(rated.body.status).toBe('settled');

  const account = await api.call('GET', `/v1/accounts/${volunteerId}`, { token: volunteer });
  expect(account.body.balance).toEqual({ minutes: 60, coins: '1.00' });
});
