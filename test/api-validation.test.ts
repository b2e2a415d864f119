import { randomUUID } from 'node:crypto';
import { ERROR_CATALOG, ErrorCode } from '../domain/errors';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  accountState,
  CJK,
  countRows,
  expectProblem,
  LONG_LEAD_MINUTES,
  Member,
  MINUTE_MS,
  newElder,
  newIdempotencyKey,
  newVolunteer,
  orderBody,
  orderIn,
  OTHER_STREET,
  registrationBody,
  Response,
  staffTokens,
  Tokens,
  volunteerBody,
} from './support/api-fixtures';

/*
 * Every endpoint rejects invalid input with a 4xx problem that names the
 * field, in Chinese by default and in English on request, and a rejected
 * create leaves no row behind.
 */

let api: ApiEnv;
let tokens: Tokens;
let elder: Member;
let volunteer: Member;
let pendingOrderId: string;
let openOrderId: string;

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  elder = await newElder(api);
  volunteer = await newVolunteer(api);
  pendingOrderId = (await orderIn(api, tokens, 'pending_review')).id;
  openOrderId = (await orderIn(api, tokens, 'open')).id;
});

afterAll(async () => {
  await api?.stop();
});

type Caller = 'elder' | 'volunteer' | 'reviewer' | 'officer' | 'operator' | 'agent';

function tokenOf(caller: Caller): string {
  switch (caller) {
    case 'elder':
      return elder.token;
    case 'volunteer':
      return volunteer.token;
    default:
      return tokens[caller];
  }
}

interface Request {
  method: 'GET' | 'POST';
  /** A function, because order ids exist only after beforeAll. */
  path: () => string;
  as: Caller;
  /** A function when the value depends on the clock or on fixtures. */
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

interface InvalidCase extends Request {
  name: string;
  status: number;
  code: ErrorCode;
  field: string;
}

function reject(name: string, request: Request, field: string, status = 400, code: ErrorCode = 'VALIDATION_FAILED'): InvalidCase {
  return { name, ...request, field, status, code };
}

const ANY_ID = randomUUID();
const LONG_TEXT = 'x'.repeat(501);

const elderBody = registrationBody('1948-02-03');
const youngBody = registrationBody('1990-01-01');
const badCheckDigit = `${(elderBody.residentId as string).slice(0, 17)}${
  (elderBody.residentId as string).endsWith('0') ? '1' : '0'
}`;
const volunteerBase = volunteerBody('1995-07-08');

const withKey = () => ({ 'Idempotency-Key': newIdempotencyKey('case') });
const validOrder = () => orderBody(LONG_LEAD_MINUTES);
const orderWith = (change: Record<string, unknown>) => () => ({ ...validOrder(), ...change });
const startIn = (minutes: number) => new Date(Date.now() + minutes * MINUTE_MS).toISOString();
const validGrant = () => ({ elderId: elder.id, amountMinutes: 60, reason: '高龄补贴' });
const grantWith = (change: Record<string, unknown>) => () => ({ ...validGrant(), ...change });

const get = (path: string | (() => string), as: Caller): Request => ({
  method: 'GET',
  path: typeof path === 'string' ? () => path : path,
  as,
});
const post = (path: string | (() => string), as: Caller, body: unknown, extra: Partial<Request> = {}): Request => ({
  method: 'POST',
  path: typeof path === 'string' ? () => path : path,
  as,
  body,
  ...extra,
});
const toElders = (body: unknown, extra?: Partial<Request>) => post('/v1/elders', 'reviewer', body, extra);
const toVolunteers = (body: unknown) => post('/v1/volunteers', 'reviewer', body);
const toOrders = (body: unknown, extra: Partial<Request> = {}) => post('/v1/orders', 'elder', body, { headers: withKey(), ...extra });
const toGrants = (body: unknown, extra: Partial<Request> = {}) => post('/v1/grants', 'officer', body, { headers: withKey(), ...extra });
const toStep = (orderId: () => string, step: string, as: Caller, body: unknown, extra?: Partial<Request>) =>
  post(() => `/v1/orders/${orderId()}/${step}`, as, body, extra);
const pending = () => pendingOrderId;
const open = () => openOrderId;
const anyOrder = () => ANY_ID;
const badId = () => 'abc';

const personCases: InvalidCase[] = [
  reject('elder malformed JSON', toElders(undefined, { rawBody: '{"name":' }), 'body', 400, 'MALFORMED_JSON'),
  reject('elder array body', toElders([elderBody]), 'body'),
  reject('elder missing residentId', toElders({ ...elderBody, residentId: undefined }), 'body.residentId'),
  reject('elder residentId format', toElders({ ...elderBody, residentId: '1101051948' }), 'body.residentId'),
  reject('elder residentId check digit', toElders({ ...elderBody, residentId: badCheckDigit }), 'body.residentId', 422, 'RESIDENT_ID_INVALID'),
  reject('elder under 60', toElders(youngBody), 'body.residentId', 422, 'TOO_YOUNG'),
  reject('elder name wrong type', toElders({ ...elderBody, name: 42 }), 'body.name'),
  reject('elder blank name', toElders({ ...elderBody, name: '   ' }), 'body.name'),
  reject('elder phone format', toElders({ ...elderBody, phone: '12345' }), 'body.phone'),
  reject('elder streetCode format', toElders({ ...elderBody, streetCode: '1101' }), 'body.streetCode'),
  reject('elder unknown street', toElders({ ...elderBody, streetCode: '110105999' }), 'body.streetCode'),
  reject('elder unknown field', toElders({ ...elderBody, nickname: '老李' }), 'body.nickname'),
  reject('elder religion field', toElders({ ...elderBody, religion: 'none' }), 'body.religion'),
  reject('volunteer not fit', toVolunteers({ ...volunteerBase, fitnessDeclared: false }), 'body.fitnessDeclared'),
  reject('volunteer bad trainedOn', toVolunteers({ ...volunteerBase, trainedOn: '2024-13-01' }), 'body.trainedOn'),
  reject('volunteer bad insurance', toVolunteers({ ...volunteerBase, insurance: 'self' }), 'body.insurance'),
  reject('volunteer medicalHistory field', toVolunteers({ ...volunteerBase, medicalHistory: '无' }), 'body.medicalHistory'),
  reject('volunteer under 18', toVolunteers(volunteerBody('2015-01-01')), 'body.residentId', 422, 'TOO_YOUNG'),
  reject('person bad uuid', get('/v1/persons/not-a-uuid', 'reviewer'), 'params.id'),
];

const createOrderCases: InvalidCase[] = [
  reject('order malformed JSON', toOrders(undefined, { rawBody: '{"category": emotional}' }), 'body', 400, 'MALFORMED_JSON'),
  reject('order JSON scalar body', toOrders(undefined, { rawBody: '"order"' }), 'body', 400, 'MALFORMED_JSON'),
  reject('order bookedMinutes string', toOrders(orderWith({ bookedMinutes: '60' })), 'body.bookedMinutes'),
  reject('order bookedMinutes zero', toOrders(orderWith({ bookedMinutes: 0 })), 'body.bookedMinutes'),
  reject('order bookedMinutes below minimum', toOrders(orderWith({ bookedMinutes: 20 })), 'body.bookedMinutes'),
  reject('order bookedMinutes above maximum', toOrders(orderWith({ bookedMinutes: 241 })), 'body.bookedMinutes'),
  reject('order bookedMinutes fraction', toOrders(orderWith({ bookedMinutes: 60.5 })), 'body.bookedMinutes'),
  reject('order missing description', toOrders(orderWith({ description: undefined })), 'body.description'),
  reject('order unknown category', toOrders(orderWith({ category: 'housekeeping' })), 'body.category'),
  reject('order start without offset', toOrders(orderWith({ scheduledStart: '2030-01-01T10:00:00' })), 'body.scheduledStart'),
  reject('order start in past', toOrders(() => ({ ...validOrder(), scheduledStart: startIn(-60) })), 'body.scheduledStart', 422, 'SCHEDULE_OUT_OF_RANGE'),
  reject('order start within lead', toOrders(() => ({ ...validOrder(), scheduledStart: startIn(60) })), 'body.scheduledStart', 422, 'SCHEDULE_OUT_OF_RANGE'),
  reject('order start beyond 30 days', toOrders(() => ({ ...validOrder(), scheduledStart: startIn(31 * 24 * 60) })), 'body.scheduledStart', 422, 'SCHEDULE_OUT_OF_RANGE'),
  reject('order sets status', toOrders(orderWith({ status: 'open' })), 'body.status'),
  reject('order unknown street', toOrders(orderWith({ streetCode: '110105999' })), 'body.streetCode'),
  reject('order missing key', toOrders(validOrder, { headers: {} }), 'header.Idempotency-Key', 400, 'IDEMPOTENCY_KEY_REQUIRED'),
  reject('order short key', toOrders(validOrder, { headers: { 'Idempotency-Key': 'abc' } }), 'header.Idempotency-Key'),
  reject('order long key', toOrders(validOrder, { headers: { 'Idempotency-Key': 'k'.repeat(129) } }), 'header.Idempotency-Key'),
  reject('order key with spaces', toOrders(validOrder, { headers: { 'Idempotency-Key': 'my order key!' } }), 'header.Idempotency-Key'),
  reject('agent without On-Behalf-Of', toOrders(validOrder, { as: 'agent' }), 'header.On-Behalf-Of'),
  reject('agent bad On-Behalf-Of', toOrders(validOrder, { as: 'agent', headers: { ...withKey(), 'On-Behalf-Of': 'elder-1' } }), 'header.On-Behalf-Of'),
  reject('path bad percent-encoding', get('/v1/orders/%FF', 'elder'), 'params'),
  reject('body over 64 KiB', toOrders(undefined, { rawBody: JSON.stringify({ description: 'x'.repeat(70_000) }) }), 'body', 413, 'PAYLOAD_TOO_LARGE'),
  reject('body gzip garbage', toOrders(undefined, { rawBody: '{}', headers: { ...withKey(), 'content-encoding': 'gzip' } }), 'body', 400, 'MALFORMED_JSON'),
  reject('body latin1 charset', toOrders(undefined, { rawBody: '{}', headers: { ...withKey(), 'content-type': 'application/json; charset=latin1' } }), 'header.Content-Type', 415, 'UNSUPPORTED_MEDIA_TYPE'),
  reject('body brotli encoding', toOrders(undefined, { rawBody: '{}', headers: { ...withKey(), 'content-encoding': 'br' } }), 'header.Content-Encoding', 415, 'UNSUPPORTED_MEDIA_TYPE'),
];

const readOrderCases: InvalidCase[] = [
  reject('list limit zero', get('/v1/orders?limit=0', 'elder'), 'query.limit'),
  reject('list limit not number', get('/v1/orders?limit=ten', 'elder'), 'query.limit'),
  reject('list limit above 200', get('/v1/orders?limit=201', 'elder'), 'query.limit'),
  reject('list limit repeated', get('/v1/orders?limit=1&limit=2', 'elder'), 'query.limit'),
  reject('list negative offset', get('/v1/orders?offset=-1', 'elder'), 'query.offset'),
  reject('list unknown status', get('/v1/orders?status=done', 'elder'), 'query.status'),
  reject('list bad districtCode', get('/v1/orders?districtCode=1101', 'reviewer'), 'query.districtCode'),
  reject('list bad elderId', get('/v1/orders?elderId=42', 'reviewer'), 'query.elderId'),
  reject('list bad volunteerId', get('/v1/orders?volunteerId=42', 'reviewer'), 'query.volunteerId'),
  reject('list unknown view', get('/v1/orders?view=all', 'volunteer'), 'query.view'),
  reject('list unknown parameter', get('/v1/orders?sort=asc', 'elder'), 'query.sort'),
  reject('order bad uuid', get('/v1/orders/12345', 'elder'), 'params.id'),
  reject('order truncated uuid', get(`/v1/orders/${ANY_ID.slice(0, 35)}`, 'elder'), 'params.id'),
];

const stepCases: InvalidCase[] = [
  reject('review bad uuid', toStep(badId, 'review', 'reviewer', { decision: 'approve' }), 'params.id'),
  reject('review malformed JSON', toStep(pending, 'review', 'reviewer', undefined, { rawBody: "{decision:'approve'}" }), 'body', 400, 'MALFORMED_JSON'),
  reject('review unknown decision', toStep(pending, 'review', 'reviewer', { decision: 'maybe' }), 'body.decision'),
  reject('review missing decision', toStep(pending, 'review', 'reviewer', {}), 'body.decision'),
  reject('review reject without note', toStep(pending, 'review', 'reviewer', { decision: 'reject' }), 'body.note'),
  reject('review note too long', toStep(pending, 'review', 'reviewer', { decision: 'reject', note: LONG_TEXT }), 'body.note'),
  reject('review unknown field', toStep(pending, 'review', 'reviewer', { decision: 'approve', bookedMinutes: 30 }), 'body.bookedMinutes'),
  reject('review bad key', toStep(pending, 'review', 'reviewer', { decision: 'approve' }, { headers: { 'Idempotency-Key': 'short' } }), 'header.Idempotency-Key'),
  reject('accept bad uuid', toStep(() => '0', 'accept', 'volunteer', {}), 'params.id'),
  reject('accept malformed JSON', toStep(open, 'accept', 'volunteer', undefined, { rawBody: '{' }), 'body', 400, 'MALFORMED_JSON'),
  reject('accept names volunteer', toStep(open, 'accept', 'volunteer', { volunteerId: ANY_ID }), 'body.volunteerId'),
  reject('accept bad key', toStep(open, 'accept', 'volunteer', {}, { headers: { 'Idempotency-Key': 'short' } }), 'header.Idempotency-Key'),
  reject('withdraw bad uuid', toStep(badId, 'withdraw', 'volunteer', {}), 'params.id'),
  reject('withdraw unknown field', toStep(open, 'withdraw', 'volunteer', { reason: '有事' }), 'body.reason'),
  reject('sign-in bad uuid', toStep(badId, 'sign-in', 'volunteer', {}), 'params.id'),
  reject('sign-in sets time', toStep(open, 'sign-in', 'volunteer', { at: '2030-01-01T10:00:00Z' }), 'body.at'),
  reject('sign-out bad uuid', toStep(badId, 'sign-out', 'volunteer', {}), 'params.id'),
  reject('sign-out array body', toStep(open, 'sign-out', 'volunteer', []), 'body'),
  reject('rating zero', toStep(anyOrder, 'rating', 'elder', { rating: 0 }), 'body.rating'),
  reject('rating six', toStep(anyOrder, 'rating', 'elder', { rating: 6 }), 'body.rating'),
  reject('rating fraction', toStep(anyOrder, 'rating', 'elder', { rating: 4.5 }), 'body.rating'),
  reject('rating string', toStep(anyOrder, 'rating', 'elder', { rating: '5' }), 'body.rating'),
  reject('rating missing', toStep(anyOrder, 'rating', 'elder', { comment: '很好' }), 'body.rating'),
  reject('rating dispute not boolean', toStep(anyOrder, 'rating', 'elder', { rating: 3, dispute: 'yes' }), 'body.dispute'),
  reject('rating comment too long', toStep(anyOrder, 'rating', 'elder', { rating: 3, comment: LONG_TEXT }), 'body.comment'),
  reject('rating unknown field', toStep(anyOrder, 'rating', 'elder', { rating: 3, stars: 3 }), 'body.stars'),
  reject('rating bad uuid', toStep(badId, 'rating', 'elder', { rating: 3 }), 'params.id'),
  reject('resolution negative minutes', toStep(anyOrder, 'dispute-resolution', 'reviewer', { servedMinutes: -30, note: '核实' }), 'body.servedMinutes'),
  reject('resolution minutes string', toStep(anyOrder, 'dispute-resolution', 'reviewer', { servedMinutes: '30', note: '核实' }), 'body.servedMinutes'),
  reject('resolution missing note', toStep(anyOrder, 'dispute-resolution', 'reviewer', { servedMinutes: 30 }), 'body.note'),
  reject('resolution bad uuid', toStep(badId, 'dispute-resolution', 'reviewer', { servedMinutes: 30, note: '核实' }), 'params.id'),
  reject('cancel blank reason', toStep(anyOrder, 'cancel', 'elder', { reason: ' ' }), 'body.reason'),
  reject('cancel reason number', toStep(anyOrder, 'cancel', 'elder', { reason: 7 }), 'body.reason'),
  reject('cancel unknown field', toStep(anyOrder, 'cancel', 'elder', { refund: true }), 'body.refund'),
  reject('cancel bad uuid', toStep(badId, 'cancel', 'elder', {}), 'params.id'),
];

const accountCases: InvalidCase[] = [
  reject('account bad uuid', get('/v1/accounts/me', 'elder'), 'params.id'),
  reject('entries bad uuid', get('/v1/accounts/me/entries', 'elder'), 'params.id'),
  reject('entries limit zero', get(() => `/v1/accounts/${elder.id}/entries?limit=0`, 'elder'), 'query.limit'),
  reject('entries offset not number', get(() => `/v1/accounts/${elder.id}/entries?offset=abc`, 'elder'), 'query.offset'),
  reject('entries unknown parameter', get(() => `/v1/accounts/${elder.id}/entries?kind=grant`, 'elder'), 'query.kind'),
  reject('grant malformed JSON', toGrants(undefined, { rawBody: '{"amountMinutes": 60,}' }), 'body', 400, 'MALFORMED_JSON'),
  reject('grant bad elderId', toGrants(grantWith({ elderId: 'elder' })), 'body.elderId'),
  reject('grant zero amount', toGrants(grantWith({ amountMinutes: 0 })), 'body.amountMinutes'),
  reject('grant negative amount', toGrants(grantWith({ amountMinutes: -60 })), 'body.amountMinutes'),
  reject('grant fractional amount', toGrants(grantWith({ amountMinutes: 1.5 })), 'body.amountMinutes'),
  reject('grant amount string', toGrants(grantWith({ amountMinutes: '60' })), 'body.amountMinutes'),
  reject('grant above yearly cap', toGrants(grantWith({ amountMinutes: 120 * 60 + 1 })), 'body.amountMinutes'),
  reject('grant missing reason', toGrants(grantWith({ reason: undefined })), 'body.reason'),
  reject('grant blank reason', toGrants(grantWith({ reason: '  ' })), 'body.reason'),
  reject('grant unknown field', toGrants(grantWith({ kind: 'gift' })), 'body.kind'),
  reject('grant missing key', toGrants(validGrant, { headers: {} }), 'header.Idempotency-Key', 400, 'IDEMPOTENCY_KEY_REQUIRED'),
  reject('grant short key', toGrants(validGrant, { headers: { 'Idempotency-Key': 'g1' } }), 'header.Idempotency-Key'),
  reject('history bad uuid', get('/v1/ops/orders/abc/history', 'operator'), 'params.id'),
];

const invalidCases: InvalidCase[] = [...personCases, ...createOrderCases, ...readOrderCases, ...stepCases, ...accountCases];

function send(c: InvalidCase, extraHeaders: Record<string, string> = {}): Promise<Response> {
  const body = typeof c.body === 'function' ? (c.body as () => unknown)() : c.body;
  return api.call(c.method, c.path(), {
    token: tokenOf(c.as),
    body,
    rawBody: c.rawBody,
    headers: { ...(c.headers ?? {}), ...extraHeaders },
  });
}

describe('invalid input in Chinese', () => {
  test.each(invalidCases)('$name', async (c) => {
    const res = await send(c);

    expectProblem(res, c.status, c.code, c.field);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(c.field);
    expect(res.body.title).toBe(ERROR_CATALOG[c.code].zh);
    expect(res.body.detail).toMatch(CJK);
  });
});

describe('invalid input in English', () => {
  test.each(invalidCases)('$name', async (c) => {
    const res = await send(c, { 'Accept-Language': 'en' });

    expectProblem(res, c.status, c.code, c.field);
    expect(res.body.title).toBe(ERROR_CATALOG[c.code].en);
    expect(res.body.detail).not.toMatch(CJK);
  });
});

describe('Accept-Language', () => {
  test.each([
    { header: 'en-US,en;q=0.9', language: 'en' },
    { header: 'EN', language: 'en' },
    { header: 'zh-CN,zh;q=0.9,en;q=0.8', language: 'zh' },
    { header: 'fr-FR', language: 'zh' },
  ] as const)('"$header" gives $language', async ({ header, language }) => {
    const res = await api.call('GET', '/v1/orders?limit=0', { token: elder.token, headers: { 'Accept-Language': header } });

    expect(res.status).toBe(400);
    expect(res.body.title).toBe(ERROR_CATALOG.VALIDATION_FAILED[language]);
  });
});

describe('unknown fields', () => {
  test('every unknown key named', async () => {
    const res = await api.call('POST', '/v1/orders', {
      token: elder.token,
      body: { ...validOrder(), price: 10, currency: 'CNY' },
      headers: withKey(),
    });

    expect(res.status).toBe(400);
    expect(res.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.price', 'body.currency']);
  });
});

const PERSON_TABLES = ['person', 'account'] as const;
const LEDGER_TABLES = ['service_order', 'reservation', 'transfer', 'entry', 'volunteer_slot'] as const;

describe('rejected registration leaves nothing', () => {
  const existing = registrationBody('1947-09-09');
  const born = (date: string, change: Record<string, unknown> = {}) => () => ({ ...registrationBody(date), ...change });

  beforeAll(async () => {
    const res = await api.call('POST', '/v1/elders', { token: tokens.reviewer, body: existing });
    expect(res.status).toBe(201);
  });

  test.each([
    { name: 'bad check digit', kind: 'elders', as: 'reviewer', body: born('1946-01-01', { residentId: badCheckDigit }), code: 'RESIDENT_ID_INVALID' },
    { name: 'elder too young', kind: 'elders', as: 'reviewer', body: born('1980-01-01'), code: 'TOO_YOUNG' },
    { name: 'volunteer too young', kind: 'volunteers', as: 'reviewer', body: () => volunteerBody('2012-06-01'), code: 'TOO_YOUNG' },
    { name: 'unknown street', kind: 'elders', as: 'reviewer', body: born('1946-01-02', { streetCode: '110105999' }), code: 'VALIDATION_FAILED' },
    { name: 'forbidden bloodType field', kind: 'elders', as: 'reviewer', body: born('1946-01-03', { bloodType: 'A' }), code: 'VALIDATION_FAILED' },
    { name: 'unknown field', kind: 'volunteers', as: 'reviewer', body: () => ({ ...volunteerBody('1990-02-02'), hobby: '书法' }), code: 'VALIDATION_FAILED' },
    { name: 'resident ID taken', kind: 'elders', as: 'reviewer', body: () => ({ ...existing, phone: '17300000001' }), code: 'RESIDENT_ID_TAKEN' },
    { name: 'other district reviewer', kind: 'elders', as: 'otherReviewer', body: born('1946-01-04'), code: 'FORBIDDEN' },
    { name: 'elder registers elder', kind: 'elders', as: 'elder', body: born('1946-01-05'), code: 'FORBIDDEN' },
  ] as const)('$name', async ({ kind, as, body, code }) => {
    const before = await countRows(api, PERSON_TABLES);
    const token = as === 'elder' ? elder.token : tokens[as];

    const res = await api.call('POST', `/v1/${kind}`, { token, body: body() });

    expectProblem(res, ERROR_CATALOG[code].status, code);
    expect(await countRows(api, PERSON_TABLES)).toEqual(before);
  });

  test('valid registration adds rows', async () => {
    // The control case: the same counts grow when the request is valid.
    const before = await countRows(api, PERSON_TABLES);

    const res = await api.call('POST', '/v1/elders', { token: tokens.otherReviewer, body: registrationBody('1946-02-01', OTHER_STREET) });

    expect(res.status).toBe(201);
    expect(await countRows(api, PERSON_TABLES)).toEqual({ person: before.person + 1, account: before.account + 1 });
  });
});

describe('rejected order leaves nothing', () => {
  let poorElder: Member;
  let usedKey: string;

  beforeAll(async () => {
    poorElder = await newElder(api, 30);
    usedKey = newIdempotencyKey('used');
    const res = await api.call('POST', '/v1/orders', { token: elder.token, body: validOrder(), headers: { 'Idempotency-Key': usedKey } });
    expect(res.status).toBe(201);
  });

  const freshKey = () => newIdempotencyKey();

  test.each([
    { name: 'insufficient balance', as: 'poor', body: validOrder, key: freshKey, code: 'INSUFFICIENT_BALANCE' },
    { name: 'start in past', as: 'elder', body: orderWith({ scheduledStart: '2020-01-01T08:00:00+08:00' }), key: freshKey, code: 'SCHEDULE_OUT_OF_RANGE' },
    { name: 'booking too short', as: 'elder', body: orderWith({ bookedMinutes: 15 }), key: freshKey, code: 'VALIDATION_FAILED' },
    { name: 'unknown street', as: 'elder', body: orderWith({ streetCode: '110105999' }), key: freshKey, code: 'VALIDATION_FAILED' },
    { name: 'key reused differently', as: 'elder', body: orderWith({ bookedMinutes: 90 }), key: () => usedKey, code: 'IDEMPOTENCY_CONFLICT' },
    { name: 'young volunteer places order', as: 'volunteer', body: validOrder, key: freshKey, code: 'REDEMPTION_NOT_ALLOWED' },
  ] as const)('$name', async ({ as, body, key, code }) => {
    const payer = as === 'poor' ? poorElder : elder;
    const caller = as === 'volunteer' ? volunteer : payer;
    const balanceBefore = await accountState(api, payer.id);
    const before = await countRows(api, LEDGER_TABLES);

    const res = await api.call('POST', '/v1/orders', { token: caller.token, body: body(), headers: { 'Idempotency-Key': key() } });

    expectProblem(res, ERROR_CATALOG[code].status, code);
    expect(await countRows(api, LEDGER_TABLES)).toEqual(before);
    expect(await accountState(api, payer.id)).toEqual(balanceBefore);
  });
});

describe('rejected grant leaves nothing', () => {
  let notElder: Member;
  let otherDistrictElderId: string;
  let usedKey: string;

  beforeAll(async () => {
    notElder = await newVolunteer(api);
    const registered = await api.call('POST', '/v1/elders', {
      token: tokens.otherReviewer,
      body: registrationBody('1944-04-04', OTHER_STREET),
    });
    expect(registered.status).toBe(201);
    otherDistrictElderId = registered.body.id;
    usedKey = newIdempotencyKey('grant');
    const granted = await api.call('POST', '/v1/grants', { token: tokens.officer, body: validGrant(), headers: { 'Idempotency-Key': usedKey } });
    expect(granted.status).toBe(201);
  });

  const freshKey = () => newIdempotencyKey();

  test.each([
    { name: 'above yearly cap', body: grantWith({ amountMinutes: 120 * 60 }), key: freshKey, code: 'VALIDATION_FAILED' },
    { name: 'person not an elder', body: () => ({ ...validGrant(), elderId: notElder.id }), key: freshKey, code: 'NOT_AN_ELDER' },
    { name: 'unknown elder', body: () => ({ ...validGrant(), elderId: randomUUID() }), key: freshKey, code: 'PERSON_NOT_FOUND' },
    { name: 'elder of other district', body: () => ({ ...validGrant(), elderId: otherDistrictElderId }), key: freshKey, code: 'PERSON_NOT_FOUND' },
    { name: 'key reused differently', body: grantWith({ amountMinutes: 90 }), key: () => usedKey, code: 'IDEMPOTENCY_CONFLICT' },
  ] as const)('$name', async ({ body, key, code }) => {
    const balanceBefore = await accountState(api, elder.id);
    const before = await countRows(api, LEDGER_TABLES);

    const res = await api.call('POST', '/v1/grants', { token: tokens.officer, body: body(), headers: { 'Idempotency-Key': key() } });

    expectProblem(res, ERROR_CATALOG[code].status, code);
    expect(await countRows(api, LEDGER_TABLES)).toEqual(before);
    expect(await accountState(api, elder.id)).toEqual(balanceBefore);
  });
});
