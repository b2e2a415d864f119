import { randomUUID } from 'node:crypto';
import { fund } from './support/fixtures';
import { ApiEnv, startApiEnv } from './support/api-env';
import { insertCasePerson } from './support/case-env';

// One policy minute lasts 2 ms, so a day of claim follow-up passes in about 3 s.
const MINUTE_MS = 2;
const DISTRICT = '110113';
const TEN_THOUSAND_HOURS = 600_000;

let api: ApiEnv;
let officer: string;

beforeAll(async () => {
  api = await startApiEnv({ TIMEBANK_MINUTE_MS: String(MINUTE_MS) });
  officer = await api.token({ sub: randomUUID(), role: 'district_officer', district: DISTRICT });
});

afterAll(async () => {
  await api?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `read` until `done` holds, for at most `rounds` × 100 ms. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, rounds = 100): Promise<T> {
  for (let i = 0; i < rounds; i += 1) {
    const value = await read();
    if (done(value)) return value;
    await sleep(100);
  }
  throw new Error('condition not reached in time');
}

async function volunteer(opts: { servedMinutes: number; coinMinutes: number }) {
  const person = await insertCasePerson(api.db.orm, { districtCode: DISTRICT, streetCode: `${DISTRICT}001` });
  await api.db.orm.em.fork().execute(`update person set served_minutes = ? where id = ?`, [opts.servedMinutes, person.id]);
  if (opts.coinMinutes > 0) await fund(api.db.orm, person.id, opts.coinMinutes);
  return { id: person.id, token: await api.token({ sub: person.id, role: 'volunteer' }) };
}

test('gifted hours are refused with 422', async () => {
  const v = await volunteer({ servedMinutes: 8_000 * 60, coinMinutes: TEN_THOUSAND_HOURS });
  const res = await api.call('POST', '/v1/cases', { token: v.token, body: {}, headers: { 'Idempotency-Key': `apply-${v.id}` } });
  expect(res.status).toBe(422);
  expect(res.body.code).toBe('CASE_NOT_ELIGIBLE');
  expect(res.body.title).toBe('不符合公办养老机构入住条件');
  expect(res.body.detail).toContain('served_time_short');
});

test('application runs to admission over HTTP', async () => {
  const home = await api.call('POST', '/v1/care-homes', { token: officer, body: { name: '顺义区第一养老院', beds: ['101'] } });
  expect(home.status).toBe(201);
  expect(home.body.beds).toHaveLength(1);

  const v = await volunteer({ servedMinutes: TEN_THOUSAND_HOURS, coinMinutes: TEN_THOUSAND_HOURS });
  const key = `apply-${v.id}`;
  const applied = await api.call('POST', '/v1/cases', { token: v.token, body: {}, headers: { 'Idempotency-Key': key } });
  expect(applied.status).toBe(201);
  const caseId = applied.body.id as string;
  const again = await api.call('POST', '/v1/cases', { token: v.token, body: {}, headers: { 'Idempotency-Key': key } });
  expect(again.status).toBe(200);
  expect(again.body.id).toBe(caseId);
  const second = await api.call('POST', '/v1/cases', { token: v.token, body: {}, headers: { 'Idempotency-Key': `${key}-2` } });
  expect(second.body.code).toBe('CASE_ALREADY_OPEN');

  const read = () => api.call('GET', `/v1/cases/${caseId}`, { token: officer });
  await until(read, (r) => r.body.status === 'awaiting_assessment');

  const forbidden = await api.call('POST', `/v1/cases/${caseId}/approval`, { token: v.token, body: {} });
  expect(forbidden.status).toBe(403);
  const otherDistrict = await api.token({ sub: randomUUID(), role: 'district_officer', district: '110101' });
  const hidden = await api.call('POST', `/v1/cases/${caseId}/assessment`, { token: otherDistrict, body: { abilityLevel: 2 } });
  expect(hidden.status).toBe(404);
  expect(hidden.body.code).toBe('CASE_NOT_FOUND');
  const unknownField = await api.call('POST', `/v1/cases/${caseId}/assessment`, {
    token: officer,
    body: { abilityLevel: 2, status: 'admitted' },
  });
  expect(unknownField.status).toBe(400);
  const early = await api.call('POST', `/v1/cases/${caseId}/admission`, { token: officer, body: {} });
  expect(early.status).toBe(409);
  expect(early.body.code).toBe('CASE_STATE_CONFLICT');

  const assessed = await api.call('POST', `/v1/cases/${caseId}/assessment`, { token: officer, body: { abilityLevel: 2 } });
  expect(assessed.status).toBe(200);
  expect(assessed.body.status).toBe('awaiting_approval');
  const approved = await api.call('POST', `/v1/cases/${caseId}/approval`, { token: officer, body: { note: '同意入住' } });
  expect(approved.status).toBe(200);
  const placed = await until(read, (r) => r.body.status === 'awaiting_admission');
  expect(placed.body.bedId).toBe(home.body.beds[0].id);

  const calls = await api.call('GET', `/v1/follow-up-calls?status=open&due_before=${encodeURIComponent(new Date(Date.now() + 365 * 86_400_000).toISOString())}`, {
    token: officer,
  });
  expect(calls.status).toBe(200);
  const call = calls.body.items.find((c: { subjectId: string }) => c.subjectId === caseId);
  expect(call).toMatchObject({ subjectKind: 'case', reason: 'bed_offered', status: 'open' });
  const missed = await api.call('POST', `/v1/follow-up-calls/${call.id}/outcome`, { token: officer, body: { outcome: '无人接听', reached: false } });
  expect(missed.body).toMatchObject({ status: 'open', attempts: 1, reached: false });
  const reached = await api.call('POST', `/v1/follow-up-calls/${call.id}/outcome`, { token: officer, body: { outcome: '已约定入住日期', reached: true } });
  expect(reached.body).toMatchObject({ status: 'done', attempts: 2, reached: true });
  const repeat = await api.call('POST', `/v1/follow-up-calls/${call.id}/outcome`, { token: officer, body: { outcome: 'x', reached: true } });
  expect(repeat.body.code).toBe('FOLLOW_UP_CALL_DONE');

  const admitted = await api.call('POST', `/v1/cases/${caseId}/admission`, { token: officer, body: {} });
  expect(admitted.status).toBe(200);
  expect(admitted.body.status).toBe('admitted');
  const events = admitted.body.timeline.map((e: { event: string }) => e.event);
  expect(events).toEqual(
    expect.arrayContaining(['applied', 'eligible', 'assessed', 'approved', 'placed', 'follow_up_call_not_reached', 'follow_up_call_reached', 'admitted']),
  );
  const account = await api.call('GET', `/v1/accounts/${v.id}`, { token: v.token });
  expect(account.body.balance).toEqual({ minutes: 0, coins: '0.00' });

  const listed = await api.call('GET', `/v1/cases?status=admitted&districtCode=${DISTRICT}`, { token: officer });
  expect(listed.body.items.map((c: { id: string }) => c.id)).toContain(caseId);
});

test('accident claim is handed to the registry', async () => {
  const v = await volunteer({ servedMinutes: 0, coinMinutes: 0 });
  const elder = await insertCasePerson(api.db.orm, { districtCode: DISTRICT, streetCode: `${DISTRICT}001` });
  const simulator = api.system.registry!.simulator!;
  await simulator.seedVolunteers([{ volunteerRef: v.id, insuredUntil: '2099-12-31' }]);
  const orderId = randomUUID();
  const signedIn = new Date(Date.now() - 3 * 3_600_000);
  await api.db.orm.em.fork().execute(
    `insert into service_order (id, elder_id, district_code, street_code, category, description, address, scheduled_start,
       booked_minutes, status, volunteer_id, signed_in_at, signed_out_at, served_minutes, settled_minutes, created_by,
       idempotency_key, request_hash)
     values (?, ?, ?, ?, 'outing_companionship', '陪同', '地址', ?, 60, 'settled', ?, ?, ?, 60, 60, ?, ?, 'h')`,
    [orderId, elder.id, DISTRICT, `${DISTRICT}001`, signedIn, v.id, signedIn, new Date(signedIn.getTime() + 3_600_000), elder.id, orderId],
  );
  const body = { orderId, injuredAt: new Date(signedIn.getTime() + 3_700_000).toISOString(), description: '返程摔倒' };
  const reported = await api.call('POST', '/v1/claims', { token: v.token, body, headers: { 'Idempotency-Key': `claim-${orderId}` } });
  expect(reported.status).toBe(201);
  const claimId = reported.body.id as string;
  const twice = await api.call('POST', '/v1/claims', { token: v.token, body, headers: { 'Idempotency-Key': `claim-${orderId}-b` } });
  expect(twice.body.code).toBe('CLAIM_ALREADY_REPORTED');

  const read = () => api.call('GET', `/v1/claims/${claimId}`, { token: officer });
  const following = await until(read, (r) => r.body.status === 'following');
  expect(following.body.route).toBe('registry');
  for (let step = 0; step < 3; step += 1) {
    const res = await fetch(`${api.system.registry!.url}/_sim/claims/${claimId}/advance`, {
      method: 'POST',
      headers: { authorization: `Bearer ${api.system.registry!.apiKey}`, 'content-type': 'application/json' },
      body: '{}',
    });
    expect(res.status).toBe(200);
  }
  const closed = await until(read, (r) => r.body.status === 'closed');
  const events = closed.body.timeline.map((e: { event: string }) => e.event);
  expect(events).toEqual(expect.arrayContaining(['reported', 'volunteer_checked', 'backfill_confirmed', 'claim_submitted', 'claim_status']));
  const listed = await api.call('GET', `/v1/claims?status=closed`, { token: officer });
  expect(listed.body.items.map((c: { id: string }) => c.id)).toContain(claimId);
});
