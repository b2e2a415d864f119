import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { mintToken } from '../api/auth';
import { ERROR_CATALOG, ErrorCode } from '../domain/errors';
import { ApiEnv, startApiEnv, TEST_JWT_SECRET } from './support/api-env';
import {
  API_ENV,
  CJK,
  DISTRICT,
  expectChineseTitle,
  expectProblem,
  LONG_LEAD_MINUTES,
  Member,
  newElder,
  newIdempotencyKey,
  newVolunteer,
  orderBody,
  OrderFixture,
  orderIn,
  orderRow,
  registrationBody,
  staffTokens,
  Tokens,
  volunteerBody,
} from './support/api-fixtures';

/*
 * Who may call what: a missing or bad token gets 401, a role that may not
 * take a step gets 403, and an id the caller may not see, or that does not
 * exist, gets 404 with a Chinese title. Rejected steps leave the order as it was.
 */

const ISSUER = 'timebank';

let api: ApiEnv;
let tokens: Tokens;
let pending: OrderFixture;
let matched: OrderFixture;
let strangerElder: Member;
let strangerVolunteer: Member;

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  pending = await orderIn(api, tokens, 'pending_review');
  matched = await orderIn(api, tokens, 'matched');
  strangerElder = await newElder(api);
  strangerVolunteer = await newVolunteer(api);
});

afterAll(async () => {
  await api?.stop();
});

interface Endpoint {
  method: 'GET' | 'POST';
  path: string;
}

const ANY_ID = randomUUID();

const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/v1/elders' },
  { method: 'POST', path: '/v1/volunteers' },
  { method: 'GET', path: `/v1/persons/${ANY_ID}` },
  { method: 'POST', path: '/v1/orders' },
  { method: 'GET', path: '/v1/orders' },
  { method: 'GET', path: `/v1/orders/${ANY_ID}` },
  ...['review', 'accept', 'withdraw', 'sign-in', 'sign-out', 'rating', 'dispute-resolution', 'cancel'].map(
    (step): Endpoint => ({ method: 'POST', path: `/v1/orders/${ANY_ID}/${step}` }),
  ),
  { method: 'GET', path: `/v1/accounts/${ANY_ID}` },
  { method: 'GET', path: `/v1/accounts/${ANY_ID}/entries` },
  { method: 'POST', path: '/v1/grants' },
  { method: 'GET', path: `/v1/ops/orders/${ANY_ID}/history` },
  { method: 'GET', path: '/v1/districts' },
];

describe('missing token', () => {
  test.each(ENDPOINTS)('$method $path', async ({ method, path }) => {
    const res = await api.call(method, path);

    expectProblem(res, 401, 'UNAUTHENTICATED');
    expectChineseTitle(res, 'UNAUTHENTICATED');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer\b/);
  });
});

function base64url(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

const elderClaims = () => ({ sub: pending.elder.id, role: 'elder' as const });
const sign = (payload: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
  new SignJWT(payload).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setIssuedAt().setExpirationTime('1h').sign(new TextEncoder().encode(secret));

describe('rejected token', () => {
  test.each([
    { name: 'basic scheme', header: async () => `Basic ${Buffer.from('elder:secret').toString('base64')}` },
    { name: 'bearer without token', header: async () => 'Bearer' },
    { name: 'not a JWT', header: async () => 'Bearer not.a.jwt' },
    { name: 'wrong secret', header: async () => `Bearer ${await mintToken('another-secret-0123456789abcdef0123456789', ISSUER, elderClaims())}` },
    { name: 'expired', header: async () => `Bearer ${await mintToken(TEST_JWT_SECRET, ISSUER, elderClaims(), '-1m')}` },
    { name: 'wrong issuer', header: async () => `Bearer ${await mintToken(TEST_JWT_SECRET, 'elsewhere', elderClaims())}` },
    { name: 'unsigned alg none', header: async () => `Bearer ${base64url({ alg: 'none' })}.${base64url({ ...elderClaims(), iss: ISSUER })}.` },
    {
      name: 'payload swapped after signing',
      header: async () => {
        const [head, , signature] = (await mintToken(TEST_JWT_SECRET, ISSUER, elderClaims())).split('.');
        return `Bearer ${head}.${base64url({ sub: pending.elder.id, role: 'city_admin', iss: ISSUER })}.${signature}`;
      },
    },
    { name: 'subject not uuid', header: async () => `Bearer ${await sign({ sub: 'elder-1', role: 'elder' })}` },
    { name: 'unknown role', header: async () => `Bearer ${await sign({ sub: randomUUID(), role: 'superuser' })}` },
    { name: 'missing role', header: async () => `Bearer ${await sign({ sub: randomUUID() })}` },
    { name: 'reviewer without district', header: async () => `Bearer ${await sign({ sub: randomUUID(), role: 'street_reviewer' })}` },
  ])('$name', async ({ header }) => {
    const res = await api.call('GET', '/v1/orders', { headers: { authorization: await header() } });

    expectProblem(res, 401, 'UNAUTHENTICATED');
    expectChineseTitle(res, 'UNAUTHENTICATED');
  });

  test('valid token accepted', async () => {
    // The control case for the table above.
    const res = await api.call('GET', '/v1/orders', { token: await sign(elderClaims()) });

    expect(res.status).toBe(200);
  });
});

type Caller = keyof Tokens | 'elder' | 'volunteer';

function tokenFor(caller: Caller): string {
  if (caller === 'elder') return pending.elder.token;
  if (caller === 'volunteer') return matched.volunteer.token;
  return tokens[caller];
}

/** One request, built lazily because fixture ids exist only after beforeAll. */
interface Call {
  method: 'GET' | 'POST';
  path: () => string;
  body?: () => unknown;
  headers?: () => Record<string, string>;
}

const keyed = () => ({ 'Idempotency-Key': newIdempotencyKey() });
const getting = (path: () => string): Call => ({ method: 'GET', path });
const posting = (path: () => string, body: () => unknown, headers?: () => Record<string, string>): Call => ({
  method: 'POST',
  path,
  body,
  headers,
});
const stepOn = (order: () => OrderFixture, step: string, body: unknown = {}, headers?: () => Record<string, string>) =>
  posting(() => `/v1/orders/${order().id}/${step}`, () => body, headers);
const grantTo = (elderId: () => string) =>
  posting(() => '/v1/grants', () => ({ elderId: elderId(), amountMinutes: 60, reason: '补贴' }), keyed);
const newOrder = posting(() => '/v1/orders', () => orderBody(LONG_LEAD_MINUTES), keyed);
const registerElder = (birthDate: string) => posting(() => '/v1/elders', () => registrationBody(birthDate));

const pendingOrder = () => pending;
const matchedOrder = () => matched;
const APPROVE = { decision: 'approve' };
const RESOLVE = { servedMinutes: 60, note: '核实' };

function send(call: Call, token: string, extraHeaders: Record<string, string> = {}) {
  return api.call(call.method, call.path(), {
    token,
    body: call.body?.(),
    headers: { ...(call.headers?.() ?? {}), ...extraHeaders },
  });
}

interface RoleCase {
  name: string;
  as: Caller;
  call: Call;
  /** The order whose read model must not change. */
  watch?: () => OrderFixture;
  /** The 403 code when it is more specific than FORBIDDEN. */
  code?: 'REDEMPTION_NOT_ALLOWED';
}

const forbiddenCases: RoleCase[] = [
  { name: 'elder registers elder', as: 'elder', call: registerElder('1945-03-03') },
  { name: 'volunteer registers volunteer', as: 'volunteer', call: posting(() => '/v1/volunteers', () => volunteerBody('1993-03-03')) },
  { name: 'operator registers elder', as: 'operator', call: registerElder('1945-03-04') },
  { name: 'other district registers elder', as: 'otherReviewer', call: registerElder('1945-03-05') },
  { name: 'young volunteer places order', as: 'volunteer', call: newOrder, code: 'REDEMPTION_NOT_ALLOWED' },
  { name: 'reviewer places order', as: 'reviewer', call: newOrder },
  { name: 'operator places order', as: 'operator', call: newOrder },
  { name: 'volunteer reviews', as: 'volunteer', call: stepOn(pendingOrder, 'review', APPROVE), watch: pendingOrder },
  { name: 'elder reviews', as: 'elder', call: stepOn(pendingOrder, 'review', APPROVE), watch: pendingOrder },
  { name: 'agent reviews', as: 'agent', call: stepOn(pendingOrder, 'review', APPROVE), watch: pendingOrder },
  { name: 'operator reviews', as: 'operator', call: stepOn(pendingOrder, 'review', APPROVE), watch: pendingOrder },
  { name: 'elder accepts', as: 'elder', call: stepOn(matchedOrder, 'accept'), watch: matchedOrder },
  { name: 'reviewer accepts', as: 'reviewer', call: stepOn(matchedOrder, 'accept'), watch: matchedOrder },
  { name: 'admin accepts', as: 'admin', call: stepOn(matchedOrder, 'accept'), watch: matchedOrder },
  { name: 'elder withdraws', as: 'elder', call: stepOn(matchedOrder, 'withdraw'), watch: matchedOrder },
  { name: 'reviewer signs in', as: 'reviewer', call: stepOn(matchedOrder, 'sign-in'), watch: matchedOrder },
  { name: 'officer signs out', as: 'officer', call: stepOn(matchedOrder, 'sign-out'), watch: matchedOrder },
  { name: 'volunteer rates', as: 'volunteer', call: stepOn(matchedOrder, 'rating', { rating: 5 }), watch: matchedOrder },
  { name: 'reviewer rates', as: 'reviewer', call: stepOn(matchedOrder, 'rating', { rating: 5 }), watch: matchedOrder },
  { name: 'elder resolves dispute', as: 'elder', call: stepOn(matchedOrder, 'dispute-resolution', RESOLVE), watch: matchedOrder },
  { name: 'volunteer resolves dispute', as: 'volunteer', call: stepOn(matchedOrder, 'dispute-resolution', RESOLVE), watch: matchedOrder },
  { name: 'operator resolves dispute', as: 'operator', call: stepOn(matchedOrder, 'dispute-resolution', RESOLVE), watch: matchedOrder },
  { name: 'volunteer cancels', as: 'volunteer', call: stepOn(matchedOrder, 'cancel'), watch: matchedOrder },
  { name: 'operator cancels', as: 'operator', call: stepOn(matchedOrder, 'cancel'), watch: matchedOrder },
  { name: 'reviewer grants', as: 'reviewer', call: grantTo(() => pending.elder.id) },
  { name: 'admin grants', as: 'admin', call: grantTo(() => pending.elder.id) },
  { name: 'elder grants', as: 'elder', call: grantTo(() => pending.elder.id) },
  { name: 'reviewer reads history', as: 'reviewer', call: getting(() => `/v1/ops/orders/${pending.id}/history`) },
  { name: 'elder reads history', as: 'elder', call: getting(() => `/v1/ops/orders/${pending.id}/history`) },
];

describe('wrong role', () => {
  test.each(forbiddenCases)('$name', async ({ as, call, watch, code }) => {
    const before = watch ? await orderRow(api, watch().id) : undefined;

    const res = await send(call, tokenFor(as));

    expectProblem(res, 403, code ?? 'FORBIDDEN');
    expectChineseTitle(res, code ?? 'FORBIDDEN');
    if (watch) expect(await orderRow(api, watch().id)).toEqual(before);
  });
});

interface HiddenCase {
  name: string;
  token: () => string;
  call: Call;
  code: ErrorCode;
  watch?: () => OrderFixture;
}

/*
 * An order, person or account outside the caller's view gets 404, the
 * same as an id that does not exist, so ids cannot be probed. Staff of
 * another district are outside the view of an order, even for review.
 */
const hiddenCases: HiddenCase[] = [
  { name: 'other district reads order', token: () => tokens.otherReviewer, call: getting(() => `/v1/orders/${pending.id}`), code: 'ORDER_NOT_FOUND' },
  { name: 'other district reviews', token: () => tokens.otherReviewer, call: stepOn(pendingOrder, 'review', APPROVE), code: 'ORDER_NOT_FOUND', watch: pendingOrder },
  { name: 'other district officer cancels', token: () => tokens.otherOfficer, call: stepOn(matchedOrder, 'cancel'), code: 'ORDER_NOT_FOUND', watch: matchedOrder },
  { name: 'other district resolves dispute', token: () => tokens.otherReviewer, call: stepOn(matchedOrder, 'dispute-resolution', RESOLVE), code: 'ORDER_NOT_FOUND', watch: matchedOrder },
  { name: 'other district grants', token: () => tokens.otherOfficer, call: grantTo(() => pending.elder.id), code: 'PERSON_NOT_FOUND' },
  { name: 'other district reads person', token: () => tokens.otherReviewer, call: getting(() => `/v1/persons/${pending.elder.id}`), code: 'PERSON_NOT_FOUND' },
  { name: 'other district reads account', token: () => tokens.otherOfficer, call: getting(() => `/v1/accounts/${pending.elder.id}`), code: 'ACCOUNT_NOT_FOUND' },
  { name: 'operator reads person', token: () => tokens.operator, call: getting(() => `/v1/persons/${pending.elder.id}`), code: 'PERSON_NOT_FOUND' },
  { name: 'other elder reads order', token: () => strangerElder.token, call: getting(() => `/v1/orders/${pending.id}`), code: 'ORDER_NOT_FOUND' },
  { name: 'other elder rates', token: () => strangerElder.token, call: stepOn(matchedOrder, 'rating', { rating: 1 }), code: 'ORDER_NOT_FOUND', watch: matchedOrder },
  { name: 'other elder cancels', token: () => strangerElder.token, call: stepOn(pendingOrder, 'cancel'), code: 'ORDER_NOT_FOUND', watch: pendingOrder },
  { name: 'other elder reads account', token: () => strangerElder.token, call: getting(() => `/v1/accounts/${pending.elder.id}`), code: 'ACCOUNT_NOT_FOUND' },
  { name: 'other elder reads entries', token: () => strangerElder.token, call: getting(() => `/v1/accounts/${pending.elder.id}/entries`), code: 'ACCOUNT_NOT_FOUND' },
  { name: 'other elder reads person', token: () => strangerElder.token, call: getting(() => `/v1/persons/${pending.elder.id}`), code: 'PERSON_NOT_FOUND' },
  { name: 'volunteer reads unreviewed order', token: () => strangerVolunteer.token, call: getting(() => `/v1/orders/${pending.id}`), code: 'ORDER_NOT_FOUND' },
  { name: 'other volunteer reads matched order', token: () => strangerVolunteer.token, call: getting(() => `/v1/orders/${matched.id}`), code: 'ORDER_NOT_FOUND' },
  { name: 'other volunteer signs in', token: () => strangerVolunteer.token, call: stepOn(matchedOrder, 'sign-in'), code: 'ORDER_NOT_FOUND', watch: matchedOrder },
  {
    name: 'agent for stranger reads order',
    token: () => tokens.agent,
    call: { ...getting(() => `/v1/orders/${pending.id}`), headers: () => ({ 'On-Behalf-Of': strangerElder.id }) },
    code: 'ORDER_NOT_FOUND',
  },
];

describe('outside caller view', () => {
  test.each(hiddenCases)('$name', async ({ token, call, code, watch }) => {
    const before = watch ? await orderRow(api, watch().id) : undefined;

    const res = await send(call, token());

    expectProblem(res, 404, code);
    expectChineseTitle(res, code);
    if (watch) expect(await orderRow(api, watch().id)).toEqual(before);
  });

  test('own district reads order', async () => {
    // The control case: the same order is visible to its own district's staff.
    const res = await api.call('GET', `/v1/orders/${pending.id}`, { token: tokens.reviewer });

    expect(res.status).toBe(200);
    expect(res.body.districtCode).toBe(DISTRICT);
  });

  test('other district lists nothing', async () => {
    const res = await api.call('GET', `/v1/orders?districtCode=${DISTRICT}`, { token: tokens.otherReviewer });

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
  });
});

const UNKNOWN_ID = randomUUID();
const unknownOrder = () => ({ id: UNKNOWN_ID }) as OrderFixture;
let unknownElderToken: string;

const unknownCases: Array<{ name: string; token: () => string; call: Call; code: ErrorCode }> = [
  { name: 'person', token: () => tokens.admin, call: getting(() => `/v1/persons/${UNKNOWN_ID}`), code: 'PERSON_NOT_FOUND' },
  { name: 'order', token: () => tokens.admin, call: getting(() => `/v1/orders/${UNKNOWN_ID}`), code: 'ORDER_NOT_FOUND' },
  { name: 'order review', token: () => tokens.reviewer, call: stepOn(unknownOrder, 'review', APPROVE), code: 'ORDER_NOT_FOUND' },
  { name: 'order accept', token: () => strangerVolunteer.token, call: stepOn(unknownOrder, 'accept'), code: 'ORDER_NOT_FOUND' },
  { name: 'order withdraw', token: () => strangerVolunteer.token, call: stepOn(unknownOrder, 'withdraw'), code: 'ORDER_NOT_FOUND' },
  { name: 'order sign-in', token: () => strangerVolunteer.token, call: stepOn(unknownOrder, 'sign-in'), code: 'ORDER_NOT_FOUND' },
  { name: 'order sign-out', token: () => strangerVolunteer.token, call: stepOn(unknownOrder, 'sign-out'), code: 'ORDER_NOT_FOUND' },
  { name: 'order rating', token: () => strangerElder.token, call: stepOn(unknownOrder, 'rating', { rating: 4 }), code: 'ORDER_NOT_FOUND' },
  { name: 'order dispute resolution', token: () => tokens.admin, call: stepOn(unknownOrder, 'dispute-resolution', RESOLVE), code: 'ORDER_NOT_FOUND' },
  { name: 'order cancel', token: () => tokens.admin, call: stepOn(unknownOrder, 'cancel'), code: 'ORDER_NOT_FOUND' },
  { name: 'order history', token: () => tokens.operator, call: getting(() => `/v1/ops/orders/${UNKNOWN_ID}/history`), code: 'ORDER_NOT_FOUND' },
  { name: 'account', token: () => tokens.admin, call: getting(() => `/v1/accounts/${UNKNOWN_ID}`), code: 'ACCOUNT_NOT_FOUND' },
  { name: 'account entries', token: () => tokens.admin, call: getting(() => `/v1/accounts/${UNKNOWN_ID}/entries`), code: 'ACCOUNT_NOT_FOUND' },
  { name: 'grant elder', token: () => tokens.officer, call: grantTo(() => UNKNOWN_ID), code: 'PERSON_NOT_FOUND' },
  { name: 'elder of token', token: () => unknownElderToken, call: newOrder, code: 'PERSON_NOT_FOUND' },
  { name: 'route', token: () => tokens.admin, call: getting(() => '/v1/volunteer-hours'), code: 'NOT_FOUND' },
];

describe('unknown id', () => {
  beforeAll(async () => {
    unknownElderToken = await api.token({ sub: UNKNOWN_ID, role: 'elder' });
  });

  test.each(unknownCases)('$name in Chinese', async ({ token, call, code }) => {
    const res = await send(call, token());

    expectProblem(res, 404, code);
    expectChineseTitle(res, code);
  });

  test.each(unknownCases)('$name in English', async ({ token, call, code }) => {
    const res = await send(call, token(), { 'Accept-Language': 'en' });

    expectProblem(res, 404, code);
    expect(res.body.title).toBe(ERROR_CATALOG[code].en);
    expect(res.body.title).not.toMatch(CJK);
  });
});
