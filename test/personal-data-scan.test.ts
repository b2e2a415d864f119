import { temporal } from '@temporalio/proto';
import { orderWorkflowId } from '../domain/order';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  MINUTE_MS,
  newIdempotencyKey,
  orderBody,
  registrationBody,
  SHORT_LEAD_MINUTES,
  staffTokens,
  testInstitution,
  Tokens,
  volunteerBody,
  waitForSignInWindow,
} from './support/api-fixtures';
import { createStaffAccount } from '../db/staff';
import { DISTRICT } from './support/fixtures';

/*
 * Runs demo-like flows through the API and scans everything an operator or
 * a client could read: every response body, every log line and the Temporal
 * history of every order. No full resident ID or phone number of the people
 * registered here may appear in any of them. The one exception is the body of
 * an audited reveal, which exists to show a full value.
 */

let api: ApiEnv;
let tokens: Tokens;
const logLines: string[] = [];
const responses: Array<{ label: string; text: string }> = [];
/** Full ID and phone numbers of everyone registered in this suite. */
const secrets: string[] = [];
const orderIds: string[] = [];
let revealed: { text: string; value: string } | undefined;

async function call(label: string, method: string, path: string, opts: { token?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await api.call(method, path, opts);
  responses.push({ label: `${method} ${path} (${label})`, text: typeof res.body === 'string' ? res.body : JSON.stringify(res.body ?? '') });
  return res;
}

function expectOk(res: { status: number; body: unknown }, status: number): void {
  expect({ status: res.status, body: res.status === status ? undefined : res.body }).toEqual({ status, body: undefined });
}

interface Person {
  id: string;
  token: string;
}

async function register(kind: 'elders' | 'volunteers', body: Record<string, unknown>): Promise<Person> {
  secrets.push(body.residentId as string, body.phone as string);
  const res = await call('register', 'POST', `/v1/${kind}`, { token: tokens.reviewer, body });
  expectOk(res, 201);
  return { id: res.body.id, token: await api.token({ sub: res.body.id, role: kind === 'elders' ? 'elder' : 'volunteer' }) };
}

async function step(orderId: string, path: string, token: string, body: unknown, headers?: Record<string, string>) {
  const res = await call(path, 'POST', `/v1/orders/${orderId}/${path}`, { token, body, headers });
  expectOk(res, 200);
  return res;
}

async function placeOrder(elder: Person, leadMinutes: number, headers: Record<string, string> = {}, token = elder.token) {
  const body = orderBody(leadMinutes);
  const res = await call('order', 'POST', '/v1/orders', { token, body, headers: { ...headers, 'Idempotency-Key': newIdempotencyKey('scan') } });
  expectOk(res, 201);
  orderIds.push(res.body.id);
  return { id: res.body.id as string, startMs: Date.parse(body.scheduledStart as string) };
}

beforeAll(async () => {
  api = await startApiEnv(API_ENV, { logStream: { write: (line: string) => void logLines.push(line) } });
  tokens = await staffTokens(api);

  const elders: Person[] = [];
  const volunteers: Person[] = [];
  for (let i = 0; i < 3; i += 1) {
    elders.push(await register('elders', registrationBody(`194${i}-02-03`)));
    volunteers.push(await register('volunteers', volunteerBody(`198${i}-04-05`)));
  }
  const studentBody = { ...volunteerBody(`${new Date().getUTCFullYear() - 15}-01-01`), guardianId: volunteers[0].id };
  await register('volunteers', studentBody);
  for (const elder of elders) {
    const grant = await call('grant', 'POST', '/v1/grants', {
      token: tokens.officer,
      body: { elderId: elder.id, amountMinutes: 600, reason: '高龄补贴' },
      headers: { 'Idempotency-Key': newIdempotencyKey('grant') },
    });
    expectOk(grant, 201);
  }

  // Staff sign in with a password and read people; every read is masked and logged.
  await createStaffAccount(api.db.orm.em.fork(), {
    name: '扫描审核员',
    role: 'street_reviewer',
    districtCode: DISTRICT,
    login: 'scan.reviewer',
    password: 'scan reviewer password',
  });
  const session = await call('sign-in', 'POST', '/v1/staff/sessions', { body: { login: 'scan.reviewer', password: 'scan reviewer password' } });
  expectOk(session, 201);
  const failed = await call('bad sign-in', 'POST', '/v1/staff/sessions', { body: { login: 'scan.reviewer', password: 'wrong' } });
  expectOk(failed, 401);
  const staff = session.body.accessToken as string;
  for (const person of [...elders, ...volunteers]) {
    expectOk(await call('staff read', 'GET', `/v1/persons/${person.id}`, { token: staff }), 200);
    expectOk(await call('own read', 'GET', `/v1/persons/${person.id}`, { token: person.token }), 200);
  }

  // The elder lets the institution's agents act for them.
  const { institutionId } = await testInstitution(api);
  expectOk(await call('consent', 'POST', `/v1/persons/${elders[0].id}/consents`, { token: elders[0].token, body: { institutionId } }), 201);

  // Orders: settled after rating, settled after a dispute, withdrawn then cancelled, and one an agent requests that is rejected.
  const rated = await placeOrder(elders[0], SHORT_LEAD_MINUTES);
  const disputed = await placeOrder(elders[1], SHORT_LEAD_MINUTES);
  const cancelled = await placeOrder(elders[2], SHORT_LEAD_MINUTES);
  const byAgent = await placeOrder(elders[0], SHORT_LEAD_MINUTES + 200, { 'On-Behalf-Of': elders[0].id }, tokens.agent);
  for (const order of [rated, disputed, cancelled]) await step(order.id, 'review', staff, { decision: 'approve' });
  await step(byAgent.id, 'review', staff, { decision: 'reject', note: '信息不全' });
  await step(rated.id, 'accept', volunteers[0].token, {});
  await step(disputed.id, 'accept', volunteers[1].token, {});
  await step(cancelled.id, 'accept', volunteers[2].token, {});
  await step(cancelled.id, 'withdraw', volunteers[2].token, {});
  await step(cancelled.id, 'cancel', elders[2].token, { reason: '不需要了' });

  await waitForSignInWindow(rated.startMs);
  for (const [order, volunteer] of [
    [rated, volunteers[0]],
    [disputed, volunteers[1]],
  ] as const) {
    await step(order.id, 'sign-in', volunteer.token, {});
  }
  await new Promise((resolve) => setTimeout(resolve, 60 * MINUTE_MS));
  await step(rated.id, 'sign-out', volunteers[0].token, {});
  await step(disputed.id, 'sign-out', volunteers[1].token, {});
  await step(rated.id, 'rating', elders[0].token, { rating: 5, comment: '很好' });
  await step(disputed.id, 'rating', elders[1].token, { rating: 2, dispute: true, disputeNote: '时间不对' });
  await step(disputed.id, 'dispute-resolution', staff, { servedMinutes: 30, note: '核实' });

  // Everyone reads what they may: orders, accounts, statements, histories, the access log.
  for (const person of [...elders, ...volunteers]) {
    expectOk(await call('list', 'GET', '/v1/orders', { token: person.token }), 200);
    expectOk(await call('account', 'GET', `/v1/accounts/${person.id}`, { token: person.token }), 200);
    expectOk(await call('entries', 'GET', `/v1/accounts/${person.id}/entries`, { token: person.token }), 200);
  }
  for (const orderId of orderIds) {
    expectOk(await call('order', 'GET', `/v1/orders/${orderId}`, { token: staff }), 200);
    expectOk(await call('history', 'GET', `/v1/ops/orders/${orderId}/history`, { token: tokens.operator }), 200);
  }
  expectOk(await call('staff list', 'GET', '/v1/orders', { token: staff }), 200);
  expectOk(await call('registration refused', 'POST', '/v1/elders', { token: staff, body: registrationBody('1990-01-01') }), 422);

  // An audited reveal: its body contains the full value by design, and is kept apart from the scan.
  const reveal = await api.call('POST', `/v1/persons/${elders[0].id}/reveal`, { token: staff, body: { field: 'phone', reason: '电话回访' } });
  expectOk(reveal, 200);
  revealed = { text: JSON.stringify(reveal.body), value: reveal.body.value };
  expectOk(await call('access log', 'GET', '/v1/ops/access-log', { token: tokens.operator }), 200);
});

afterAll(async () => {
  await api?.stop();
});

/** Returns where the first full ID or phone number of the population appears, or undefined. */
function firstLeak(texts: Array<{ label: string; text: string }>): string | undefined {
  for (const { label, text } of texts) {
    const secret = secrets.find((value) => text.includes(value));
    if (secret) return `${label} contains ${secret}`;
  }
  return undefined;
}

test('population registered', () => {
  // Seven people, an ID and a phone number each.
  expect(secrets).toHaveLength(14);
});

test('flows produced output', () => {
  expect(responses.length).toBeGreaterThan(60);
  expect(logLines.length).toBeGreaterThan(30);
  expect(orderIds).toHaveLength(4);
});

test('scanner finds a planted value', () => {
  // The control case: the reveal body contains a full phone number, and the scan must see it.
  expect(firstLeak([{ label: 'reveal', text: revealed!.text }])).toBe(`reveal contains ${revealed!.value}`);
});

test('responses hold no full numbers', () => {
  expect(firstLeak(responses)).toBeUndefined();
});

test('responses show masked numbers', () => {
  const text = responses.map((r) => r.text).join('\n');

  expect(text).toMatch(/"residentId":"\d{3}\*{11}[\dX]{4}"/);
  expect(text).toMatch(/"phone":"\d{3}\*{4}\d{4}"/);
});

test('logs hold no full numbers', () => {
  expect(firstLeak(logLines.map((text, i) => ({ label: `log line ${i + 1}`, text })))).toBeUndefined();
});

test('logs hold no tokens', () => {
  const tokenPattern = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;

  expect(logLines.find((line) => tokenPattern.test(line))).toBeUndefined();
});

test('logs record the reveal', () => {
  expect(logLines.some((line) => line.includes('personal data revealed'))).toBe(true);
});

test('histories hold no full numbers', async () => {
  const histories = [];
  for (const orderId of orderIds) {
    const history = await api.system.temporal.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
    // The encoded history contains every payload as the JSON bytes the SDK wrote, so plain values show as text.
    const encoded = Buffer.from(temporal.api.history.v1.History.encode(history).finish()).toString('latin1');
    histories.push({ label: `history of order ${orderId}`, text: encoded });
  }

  expect(histories).toHaveLength(4);
  expect(histories.every((h) => h.text.includes(h.label.slice(-36)))).toBe(true);
  expect(firstLeak(histories)).toBeUndefined();
});
