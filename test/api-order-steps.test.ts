import { ERROR_CATALOG, ErrorCode } from '../domain/errors';
import { orderWorkflowId } from '../domain/order';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  accountState,
  CJK,
  countRows,
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
  placeOrder,
  SHORT_LEAD_MINUTES,
  staffTokens,
  step,
  Tokens,
  waitForSignInWindow,
} from './support/api-fixtures';

/*
 * Steps sent in the wrong order are rejected with 409 and leave the order's
 * read model untouched, and a request retried with its Idempotency-Key has
 * its effect once.
 */

let api: ApiEnv;
let tokens: Tokens;
let pending: OrderFixture;
let open: OrderFixture;
let matched: OrderFixture;
let inService: OrderFixture;
let settled: OrderFixture;
let disputed: OrderFixture;
let outsider: Member;

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  // The signed-in fixtures each wait about 5 s for their sign-in window, so they are built side by side.
  [pending, open, matched, inService, settled, disputed] = await Promise.all([
    orderIn(api, tokens, 'pending_review'),
    orderIn(api, tokens, 'open'),
    orderIn(api, tokens, 'matched'),
    orderIn(api, tokens, 'in_service'),
    orderIn(api, tokens, 'settled'),
    orderIn(api, tokens, 'disputed'),
  ]);
  outsider = await newVolunteer(api);
});

afterAll(async () => {
  await api?.stop();
});

interface ConflictCase {
  name: string;
  order: () => OrderFixture;
  step: string;
  token: (order: OrderFixture) => string;
  body?: unknown;
  headers?: (order: OrderFixture) => Record<string, string>;
  code: ErrorCode;
}

const holder = (order: OrderFixture) => order.volunteer.token;
const elderOf = (order: OrderFixture) => order.elder.token;
const reviewer = () => tokens.reviewer;
const stranger = () => outsider.token;
const agent = () => tokens.agent;
const forElder = (order: OrderFixture) => ({ 'On-Behalf-Of': order.elder.id });

const conflictCases: ConflictCase[] = [
  { name: 'sign-out before sign-in', order: () => matched, step: 'sign-out', token: holder, code: 'ORDER_STATE_CONFLICT' },
  { name: 'rating before sign-out', order: () => inService, step: 'rating', token: elderOf, body: { rating: 5 }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'review of approved order', order: () => open, step: 'review', token: reviewer, body: { decision: 'approve' }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'rejecting approved order', order: () => open, step: 'review', token: reviewer, body: { decision: 'reject', note: '重复' }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'sign-in of open order', order: () => open, step: 'sign-in', token: stranger, code: 'ORDER_STATE_CONFLICT' },
  { name: 'withdraw from open order', order: () => open, step: 'withdraw', token: stranger, code: 'ORDER_STATE_CONFLICT' },
  { name: 'sign-in before window', order: () => matched, step: 'sign-in', token: holder, code: 'SIGN_IN_WINDOW_CLOSED' },
  { name: 'second volunteer accepts', order: () => matched, step: 'accept', token: stranger, code: 'ORDER_ALREADY_MATCHED' },
  { name: 'elder cancels after sign-in', order: () => inService, step: 'cancel', token: elderOf, code: 'ORDER_STATE_CONFLICT' },
  { name: 'resolution without dispute', order: () => inService, step: 'dispute-resolution', token: reviewer, body: { servedMinutes: 30, note: '核实' }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'cancel of settled order', order: () => settled, step: 'cancel', token: () => tokens.admin, body: { reason: '误操作' }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'rating of settled order', order: () => settled, step: 'rating', token: elderOf, body: { rating: 1 }, code: 'ORDER_STATE_CONFLICT' },
  { name: 'sign-out of settled order', order: () => settled, step: 'sign-out', token: holder, code: 'ORDER_STATE_CONFLICT' },
  { name: 'rating of disputed order', order: () => disputed, step: 'rating', token: elderOf, body: { rating: 4 }, code: 'ORDER_STATE_CONFLICT' },
  // Volunteers see an order only once it is approved, so an unreviewed one is not found.
  { name: 'accept before review', order: () => pending, step: 'accept', token: stranger, code: 'ORDER_NOT_FOUND' },
  { name: 'sign-in of pending order', order: () => pending, step: 'sign-in', token: stranger, code: 'ORDER_NOT_FOUND' },
  // An agent acting for the elder reaches the workflow, which checks the status first.
  { name: 'agent accepts before review', order: () => pending, step: 'accept', token: agent, headers: forElder, code: 'ORDER_STATE_CONFLICT' },
  // The holder check: a matched order is hidden from other volunteers, and
  // the workflow rejects a withdrawal for anyone but its holder.
  { name: 'withdraw by other volunteer', order: () => matched, step: 'withdraw', token: stranger, code: 'ORDER_NOT_FOUND' },
  { name: 'withdraw for non-holder', order: () => matched, step: 'withdraw', token: agent, headers: forElder, code: 'FORBIDDEN' },
];

describe('out-of-order step', () => {
  test.each(conflictCases)('$name', async (c) => {
    const order = c.order();
    const before = await orderRow(api, order.id);
    const balanceBefore = await accountState(api, order.elder.id);

    const res = await api.call('POST', `/v1/orders/${order.id}/${c.step}`, {
      token: c.token(order),
      body: c.body ?? {},
      headers: c.headers?.(order),
    });

    expectProblem(res, ERROR_CATALOG[c.code].status, c.code);
    expectChineseTitle(res, c.code);
    expect(await orderRow(api, order.id)).toEqual(before);
    expect(await accountState(api, order.elder.id)).toEqual(balanceBefore);
  });

  test('conflict title in English', async () => {
    const res = await api.call('POST', `/v1/orders/${matched.id}/sign-out`, {
      token: matched.volunteer.token,
      body: {},
      headers: { 'Accept-Language': 'en' },
    });

    expect(res.status).toBe(409);
    expect(res.body.title).toBe(ERROR_CATALOG.ORDER_STATE_CONFLICT.en);
    expect(res.body.title).not.toMatch(CJK);
  });

  test('resolution above served cap', async () => {
    const before = await orderRow(api, disputed.id);

    const res = await api.call('POST', `/v1/orders/${disputed.id}/dispute-resolution`, {
      token: tokens.reviewer,
      body: { servedMinutes: 60 + 30 + 1, note: '核实' },
    });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.servedMinutes');
    expect(res.body.detail).toMatch(CJK);
    expect(await orderRow(api, disputed.id)).toEqual(before);
  });
});

const ORDER_TABLES = ['service_order', 'reservation', 'transfer', 'entry'] as const;

describe('retried order request', () => {
  let elder: Member;

  beforeAll(async () => {
    elder = await newElder(api);
  });

  test('same key returns same order', async () => {
    const key = newIdempotencyKey('retry');
    const body = orderBody(LONG_LEAD_MINUTES);
    const first = await api.call('POST', '/v1/orders', { token: elder.token, body, headers: { 'Idempotency-Key': key } });
    const afterFirst = await countRows(api, ORDER_TABLES);

    const second = await api.call('POST', '/v1/orders', { token: elder.token, body, headers: { 'Idempotency-Key': key } });

    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect(second.headers.get('location')).toBe(`/v1/orders/${first.body.id}`);
    expect(await countRows(api, ORDER_TABLES)).toEqual(afterFirst);
  });

  test('same key, other body rejected', async () => {
    const key = newIdempotencyKey('retry');
    const body = orderBody(LONG_LEAD_MINUTES);
    const first = await api.call('POST', '/v1/orders', { token: elder.token, body, headers: { 'Idempotency-Key': key } });
    const afterFirst = await countRows(api, ORDER_TABLES);

    const second = await api.call('POST', '/v1/orders', {
      token: elder.token,
      body: { ...body, bookedMinutes: 120 },
      headers: { 'Idempotency-Key': key },
    });

    expect(first.status).toBe(201);
    expectProblem(second, 409, 'IDEMPOTENCY_CONFLICT');
    expectChineseTitle(second, 'IDEMPOTENCY_CONFLICT');
    expect(await countRows(api, ORDER_TABLES)).toEqual(afterFirst);
  });

  test('key scoped to caller', async () => {
    const other = await newElder(api);
    const key = newIdempotencyKey('shared');
    const body = orderBody(LONG_LEAD_MINUTES);

    const first = await api.call('POST', '/v1/orders', { token: elder.token, body, headers: { 'Idempotency-Key': key } });
    const second = await api.call('POST', '/v1/orders', { token: other.token, body, headers: { 'Idempotency-Key': key } });

    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.body.id).not.toBe(first.body.id);
  });
});

describe('retried grant', () => {
  const grant = (elderId: string, amountMinutes: number, reason = '高龄老人补贴') => ({ elderId, amountMinutes, reason });

  test('same key posts once', async () => {
    const elder = await newElder(api, 0);
    const key = newIdempotencyKey('grant');
    const body = grant(elder.id, 600);

    const first = await api.call('POST', '/v1/grants', { token: tokens.officer, body, headers: { 'Idempotency-Key': key } });
    const afterFirst = await countRows(api, ['transfer', 'entry']);
    const second = await api.call('POST', '/v1/grants', { token: tokens.officer, body, headers: { 'Idempotency-Key': key } });

    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.transferId).toBe(first.body.transferId);
    expect(await countRows(api, ['transfer', 'entry'])).toEqual(afterFirst);
    expect(await accountState(api, elder.id)).toEqual({ balance: 600, reserved: 0 });
  });

  test('retry at yearly cap', async () => {
    // The yearly cap already counts the first grant, so the retry must not be measured against it again.
    const elder = await newElder(api, 0);
    const key = newIdempotencyKey('grant');
    const body = grant(elder.id, 120 * 60);

    const first = await api.call('POST', '/v1/grants', { token: tokens.officer, body, headers: { 'Idempotency-Key': key } });
    const second = await api.call('POST', '/v1/grants', { token: tokens.officer, body, headers: { 'Idempotency-Key': key } });

    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(await accountState(api, elder.id)).toEqual({ balance: 120 * 60, reserved: 0 });
  });

  test.each([
    { name: 'other amount', change: { amountMinutes: 90 } },
    { name: 'other reason', change: { reason: '困难老人补贴' } },
  ])('same key, $name rejected', async ({ change }) => {
    const elder = await newElder(api, 0);
    const key = newIdempotencyKey('grant');
    const body = grant(elder.id, 60);
    const first = await api.call('POST', '/v1/grants', { token: tokens.officer, body, headers: { 'Idempotency-Key': key } });
    const afterFirst = await countRows(api, ['transfer', 'entry']);

    const second = await api.call('POST', '/v1/grants', {
      token: tokens.officer,
      body: { ...body, ...change },
      headers: { 'Idempotency-Key': key },
    });

    expect(first.status).toBe(201);
    expectProblem(second, 409, 'IDEMPOTENCY_CONFLICT');
    expect(await countRows(api, ['transfer', 'entry'])).toEqual(afterFirst);
    expect(await accountState(api, elder.id)).toEqual({ balance: 60, reserved: 0 });
  });
});

describe('retried order step', () => {
  async function post(orderId: string, path: string, token: string, key?: string) {
    return api.call('POST', `/v1/orders/${orderId}/${path}`, {
      token,
      body: {},
      headers: key ? { 'Idempotency-Key': key } : {},
    });
  }

  test('accept with same key', async () => {
    const order = await orderIn(api, tokens, 'open');
    const key = newIdempotencyKey('accept');

    const first = await post(order.id, 'accept', order.volunteer.token, key);
    const afterFirst = await orderRow(api, order.id);
    const second = await post(order.id, 'accept', order.volunteer.token, key);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.status).toBe('matched');
    expect(second.body.volunteerId).toBe(order.volunteer.id);
    expect(await orderRow(api, order.id)).toEqual(afterFirst);
  });

  test('accept retried without key', async () => {
    // The control case: without a key the retry is a new acceptance, which the order refuses.
    const order = await orderIn(api, tokens, 'open');
    await post(order.id, 'accept', order.volunteer.token);

    const second = await post(order.id, 'accept', order.volunteer.token);

    expectProblem(second, 409, 'ORDER_ALREADY_MATCHED');
  });

  test('sign-in with same key', async () => {
    const elder = await newElder(api);
    const volunteer = await newVolunteer(api);
    const order = await placeOrder(api, elder, SHORT_LEAD_MINUTES);
    await step(api, order.id, 'review', tokens.reviewer, { decision: 'approve' }, 'open');
    await step(api, order.id, 'accept', volunteer.token, {}, 'matched');
    await waitForSignInWindow(order.startMs);
    const key = newIdempotencyKey('sign-in');

    const first = await post(order.id, 'sign-in', volunteer.token, key);
    const afterFirst = await orderRow(api, order.id);
    const second = await post(order.id, 'sign-in', volunteer.token, key);
    const third = await post(order.id, 'sign-in', volunteer.token);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.status).toBe('in_service');
    expect(second.body.signedInAt).toBe(first.body.signedInAt);
    expect(await orderRow(api, order.id)).toEqual(afterFirst);
    expectProblem(third, 409, 'ORDER_STATE_CONFLICT');
  });

  test('key reused on next step', async () => {
    // A key names one request, so reusing the accept's key on a withdrawal must not replay the acceptance.
    const order = await orderIn(api, tokens, 'open');
    const key = newIdempotencyKey('reused');

    const accepted = await post(order.id, 'accept', order.volunteer.token, key);
    const withdrawn = await post(order.id, 'withdraw', order.volunteer.token, key);

    expect(accepted.body.status).toBe('matched');
    expect(withdrawn.status).toBe(200);
    expect(withdrawn.body.status).toBe('open');
    expect((await orderRow(api, order.id)).volunteer_id).toBeNull();
  });

  test('cancel retried after close', async () => {
    const order = await orderIn(api, tokens, 'open');
    const key = newIdempotencyKey('cancel');

    const first = await post(order.id, 'cancel', order.elder.token, key);
    // The retry arrives after the order's workflow has finished.
    await api.system.temporal.workflow.getHandle(orderWorkflowId(order.id)).result();
    const second = await post(order.id, 'cancel', order.elder.token, key);

    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.status).toBe('cancelled');
    expect(await accountState(api, order.elder.id)).toEqual({ balance: 600, reserved: 0 });
  });
});
