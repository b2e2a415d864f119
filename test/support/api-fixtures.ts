import { randomUUID } from 'node:crypto';
import { ERROR_CATALOG, ErrorCode } from '../../domain/errors';
import { makeResidentId } from '../../domain/resident-id';
import { ApiEnv } from './api-env';
import { DISTRICT, fund, insertPerson, STREET } from './fixtures';

/*
 * Helpers for suites that drive the HTTP API end to end: staff tokens, people
 * and orders in a chosen lifecycle status, row counts and problem checks.
 */

/** Real milliseconds per policy minute in these suites, so an hour of service lasts 0.3 s. */
export const MINUTE_MS = 5;

/** Policy minutes (500 s at 5 ms each), longer than any suite runs. */
const BEYOND_SUITE_MINUTES = 100_000;

/**
 * Configuration for startApiEnv. The timers that no test here exercises
 * (review reminders, automatic close, the rating window and automatic
 * settlement) fire only after the suite ends, so on a slow machine they cannot
 * change an order between a test's before and after reads.
 */
export const API_ENV = {
  TIMEBANK_MINUTE_MS: String(MINUTE_MS),
  TIMEBANK_POLICY_JSON: JSON.stringify({
    reviewReminderMinutes: BEYOND_SUITE_MINUTES,
    reviewEscalationMinutes: BEYOND_SUITE_MINUTES + 1,
    autoCloseAfterBookedEndMinutes: BEYOND_SUITE_MINUTES,
    ratingWindowMinutes: BEYOND_SUITE_MINUTES,
    autoSettleAfterSignOutMinutes: BEYOND_SUITE_MINUTES,
  }),
};

export { DISTRICT, STREET };
/** 海淀区, a district whose staff must not reach 朝阳区 orders or people. */
export const OTHER_DISTRICT = '110108';
export const OTHER_STREET = '110108001';

/** Matches one CJK unified ideograph, the mark of a Chinese message. */
export const CJK = /[\u4e00-\u9fff]/;

export type Response = Awaited<ReturnType<ApiEnv['call']>>;

/**
 * Checks the status, the problem+json content type, the error code and,
 * when given, the field a rejected request names. Each condition is its own
 * assertion, so a failure names the one that broke.
 */
export function expectProblem(res: Response, status: number, code: ErrorCode, field?: string): void {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe(code);
  if (field !== undefined) expect(res.body.field).toBe(field);
}

/** Checks that the title is the catalog's Chinese text, the language clients get by default. */
export function expectChineseTitle(res: Response, code: ErrorCode): void {
  expect(res.body.title).toBe(ERROR_CATALOG[code].zh);
  expect(res.body.title).toMatch(CJK);
}

export interface Tokens {
  reviewer: string;
  officer: string;
  admin: string;
  operator: string;
  agent: string;
  otherReviewer: string;
  otherOfficer: string;
}

export interface TestInstitution {
  institutionId: string;
  agentId: string;
}

const testInstitutions = new WeakMap<ApiEnv, Promise<TestInstitution>>();

/** An institution of 朝阳区 with one agent, created once per test system. */
export function testInstitution(api: ApiEnv): Promise<TestInstitution> {
  let created = testInstitutions.get(api);
  if (!created) {
    created = (async () => {
      const institutionId = randomUUID();
      const agentId = randomUUID();
      const em = api.db.orm.em.fork();
      await em.execute(`insert into institution (id, name, district_code, street_code) values (?, '测试服务中心', ?, ?)`, [
        institutionId,
        DISTRICT,
        STREET,
      ]);
      await em.execute(`insert into staff (id, name, role, district_code, institution_id) values (?, '测试代办人', 'agent', ?, ?)`, [
        agentId,
        DISTRICT,
        institutionId,
      ]);
      return { institutionId, agentId };
    })();
    testInstitutions.set(api, created);
  }
  return created;
}

/** Records the person's consent to the test institution's agents acting for them. */
export async function consentToTestInstitution(api: ApiEnv, personId: string): Promise<void> {
  const { institutionId } = await testInstitution(api);
  await api.db.orm.em
    .fork()
    .execute(`insert into agent_consent (id, person_id, institution_id, granted_by, granted_by_role) values (?, ?, ?, ?, 'elder')`, [
      randomUUID(),
      personId,
      institutionId,
      personId,
    ]);
}

/** Staff tokens of 朝阳区 and 海淀区, and of the test institution's agent. */
export async function staffTokens(api: ApiEnv): Promise<Tokens> {
  return {
    reviewer: await api.token({ sub: randomUUID(), role: 'street_reviewer', district: DISTRICT }),
    officer: await api.token({ sub: randomUUID(), role: 'district_officer', district: DISTRICT }),
    admin: await api.token({ sub: randomUUID(), role: 'city_admin' }),
    operator: await api.token({ sub: randomUUID(), role: 'operator' }),
    agent: await api.token({ sub: (await testInstitution(api)).agentId, role: 'agent' }),
    otherReviewer: await api.token({ sub: randomUUID(), role: 'street_reviewer', district: OTHER_DISTRICT }),
    otherOfficer: await api.token({ sub: randomUUID(), role: 'district_officer', district: OTHER_DISTRICT }),
  };
}

export interface Member {
  id: string;
  token: string;
}

/**
 * Inserts an elder of 朝阳区 with `minutes` of granted coins, who consents to
 * the test institution's agents acting for them unless `consent` is false.
 */
export async function newElder(api: ApiEnv, minutes = 600, opts: { consent?: boolean } = {}): Promise<Member> {
  const person = await insertPerson(api.db.orm, { elder: true });
  if (minutes > 0) await fund(api.db.orm, person.id, minutes);
  if (opts.consent !== false) await consentToTestInstitution(api, person.id);
  return { id: person.id, token: await api.token({ sub: person.id, role: 'elder' }) };
}

/** Inserts an insured, active volunteer of 朝阳区, who consents to the test institution like newElder. */
export async function newVolunteer(api: ApiEnv, opts: { consent?: boolean } = {}): Promise<Member> {
  const person = await insertPerson(api.db.orm, { volunteer: true });
  if (opts.consent !== false) await consentToTestInstitution(api, person.id);
  return { id: person.id, token: await api.token({ sub: person.id, role: 'volunteer' }) };
}

let registrationSequence = 500;

/** Builds a valid registration body for a person born on `birthDate`, unique within one suite. */
export function registrationBody(birthDate: string, streetCode = STREET): Record<string, unknown> {
  registrationSequence += 1;
  const areaCode = streetCode.slice(0, 6);
  return {
    residentId: makeResidentId(areaCode, birthDate, registrationSequence % 1000),
    name: '李四',
    phone: `1720000${String(registrationSequence).padStart(4, '0')}`,
    streetCode,
    address: '测试路2号',
  };
}

export function volunteerBody(birthDate: string): Record<string, unknown> {
  return { ...registrationBody(birthDate), trainedOn: '2024-05-01', fitnessDeclared: true, insurance: 'registry' };
}

export function newIdempotencyKey(prefix = 'key'): string {
  return `${prefix}-${randomUUID()}`;
}

export function orderBody(leadMinutes: number, bookedMinutes = 60): Record<string, unknown> {
  return {
    category: 'emotional_comfort',
    description: '陪老人聊天',
    scheduledStart: new Date(Date.now() + leadMinutes * MINUTE_MS).toISOString(),
    bookedMinutes,
  };
}

export interface PlacedOrder {
  id: string;
  startMs: number;
}

/** Requests an order `leadMinutes` policy minutes ahead and expects 201. */
export async function placeOrder(api: ApiEnv, elder: Member, leadMinutes: number): Promise<PlacedOrder> {
  const body = orderBody(leadMinutes);
  const res = await api.call('POST', '/v1/orders', {
    token: elder.token,
    body,
    headers: { 'Idempotency-Key': newIdempotencyKey('order') },
  });
  expect(res.status).toBe(201);
  return { id: res.body.id, startMs: Date.parse(body.scheduledStart as string) };
}

/** Sends one order step and expects 200 with the status the step leads to. */
export async function step(
  api: ApiEnv,
  orderId: string,
  path: string,
  token: string,
  body: unknown,
  expectedStatus: string,
): Promise<void> {
  const res = await api.call('POST', `/v1/orders/${orderId}/${path}`, { token, body });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe(expectedStatus);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until the sign-in window of an order starting at `startMs` is open (it opens 30 policy minutes early). */
export async function waitForSignInWindow(startMs: number): Promise<void> {
  const opensMs = startMs - 30 * MINUTE_MS;
  await sleep(Math.max(0, opensMs - Date.now() + 5 * MINUTE_MS));
}

export type FixtureStatus = 'pending_review' | 'open' | 'matched' | 'in_service' | 'awaiting_rating' | 'disputed' | 'settled';

export interface OrderFixture extends PlacedOrder {
  elder: Member;
  volunteer: Member;
}

/**
 * Leads in policy minutes. A long lead keeps an order from expiring or being
 * cancelled as unmatched while a test runs. A short one lets the test reach
 * the sign-in window within 5 s. It leaves 4.4 s to approve and accept before
 * the match deadline 120 policy minutes before the start, which was enough for
 * six fixtures built side by side on a busy 2-core machine.
 */
export const LONG_LEAD_MINUTES = 20_000;
export const SHORT_LEAD_MINUTES = 1_000;

/**
 * Builds an order with a fresh elder and volunteer and walks it through the
 * API to `status`. Orders that must be signed in wait for the sign-in window,
 * about 5 s after the request.
 */
export async function orderIn(api: ApiEnv, tokens: Tokens, status: FixtureStatus): Promise<OrderFixture> {
  const elder = await newElder(api);
  const volunteer = await newVolunteer(api);
  const needsSignIn = ['in_service', 'awaiting_rating', 'disputed', 'settled'].includes(status);
  const order = await placeOrder(api, elder, needsSignIn ? SHORT_LEAD_MINUTES : LONG_LEAD_MINUTES);
  const fixture = { ...order, elder, volunteer };
  if (status === 'pending_review') return fixture;

  await step(api, order.id, 'review', tokens.reviewer, { decision: 'approve' }, 'open');
  if (status === 'open') return fixture;

  await step(api, order.id, 'accept', volunteer.token, {}, 'matched');
  if (status === 'matched') return fixture;

  await waitForSignInWindow(order.startMs);
  await step(api, order.id, 'sign-in', volunteer.token, {}, 'in_service');
  if (status === 'in_service') return fixture;

  await step(api, order.id, 'sign-out', volunteer.token, {}, 'awaiting_rating');
  if (status === 'awaiting_rating') return fixture;

  if (status === 'disputed') {
    await step(api, order.id, 'rating', elder.token, { rating: 2, dispute: true, disputeNote: '时间记录不对' }, 'disputed');
    return fixture;
  }
  await step(api, order.id, 'rating', elder.token, { rating: 5 }, 'settled');
  return fixture;
}

/** Reads every column of the order's read-model row, for before/after comparisons. */
export async function orderRow(api: ApiEnv, orderId: string): Promise<Record<string, unknown>> {
  const rows = await api.db.orm.em.fork().execute(`select * from service_order where id = ?`, [orderId]);
  return rows[0];
}

/** Counts the rows of each of `tables`, keyed by table name. */
export async function countRows(api: ApiEnv, tables: readonly string[]): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const [row] = await api.db.orm.em.fork().execute<Array<{ n: string }>>(`select count(*) as n from ${table}`);
    counts[table] = Number(row.n);
  }
  return counts;
}

/** Reads the balance and the reserved amount of a person's account, in minutes. */
export async function accountState(api: ApiEnv, personId: string): Promise<{ balance: number; reserved: number }> {
  const rows = await api.db.orm.em
    .fork()
    .execute<Array<{ balance: string; reserved: string }>>(`select balance, reserved from account where person_id = ?`, [
      personId,
    ]);
  return { balance: Number(rows[0].balance), reserved: Number(rows[0].reserved) };
}
