import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createOrderActivities } from '../activities/orders';
import { checkLedger, getBalance } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { Actor } from '../domain/order';
import {
  acceptOrder,
  cancelOrder,
  getOrderState,
  rateOrder,
  resolveDispute,
  reviewOrder,
  signIn,
  signOut,
  withdrawOrder,
} from '../workflows/order';
import { createTestDatabase, TestDatabase } from './support/db';
import { DISTRICT, fund, insertPerson } from './support/fixtures';
import { createTestWorker, recordHistory, registerSearchAttributes, silentLogger, startOrder, timeSkippingServerPath } from './support/order-env';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `orders-${randomUUID()}`;

const reviewer: Actor = { id: randomUUID(), role: 'street_reviewer', districtCode: DISTRICT };

beforeAll(async () => {
  env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
  await registerSearchAttributes(env);
  db = await createTestDatabase();
  worker = await createTestWorker(env, db.orm, taskQueue);
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  await db?.drop();
});

async function people() {
  const elder = await insertPerson(db.orm, { elder: true });
  await fund(db.orm, elder.id, 600);
  const volunteer = await insertPerson(db.orm, { volunteer: true });
  return { elder, volunteer, volunteerActor: { id: volunteer.id, role: 'volunteer' } as Actor };
}

async function balance(personId: string) {
  return (await getBalance(db.orm.em.fork(), personalAccountId(personId)))!;
}

async function readModel(orderId: string) {
  const [row] = await db.orm.em
    .fork()
    .execute(`select status, cancel_reason, served_minutes, settled_minutes, flags from service_order where id = ?`, [orderId]);
  return row as { status: string; cancel_reason: string | null; served_minutes: number | null; settled_minutes: number | null; flags: string[] };
}

async function followUps(orderId: string): Promise<string[]> {
  const rows = await db.orm.em.fork().execute<Array<{ reason: string }>>(
    `select reason from follow_up_call where subject_id = ? order by reason`,
    [orderId],
  );
  return rows.map((r) => r.reason);
}

async function expectUpdateFailure(promise: Promise<unknown>, type: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(type);
    return;
  }
  throw new Error(`expected the update to fail with ${type}`);
}

/** Approves, accepts and signs in, leaving the order in service. */
async function toInService(startInMinutes = 4 * 60) {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  await env.sleep(startInMinutes * MINUTE - 10 * MINUTE);
  await order.handle.executeUpdate(signIn, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  return { ...p, order };
}

test('order settles after rating', async () => {
  const { elder, volunteer, volunteerActor, order } = await toInService();
  expect(await balance(elder.id)).toMatchObject({ balance: 600, reserved: 60, available: 540 });

  await env.sleep(75 * MINUTE);
  const out = await order.handle.executeUpdate(signOut, { args: [{ actor: volunteerActor, volunteerId: volunteer.id }] });
  expect(out.status).toBe('awaiting_rating');
  expect(out.servedMinutes).toBe(60);

  const rated = await order.handle.executeUpdate(rateOrder, {
    args: [{ actor: { id: elder.id, role: 'elder' }, rating: 5, dispute: false }],
  });
  expect(rated.status).toBe('settled');
  expect(await order.handle.result()).toMatchObject({ status: 'settled', settledMinutes: 60 });
  expect(await balance(elder.id)).toMatchObject({ balance: 540, reserved: 0 });
  expect(await balance(volunteer.id)).toMatchObject({ balance: 60, reserved: 0 });
  expect(await readModel(order.orderId)).toMatchObject({ status: 'settled', settled_minutes: 60 });
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
  await recordHistory('order-settled-after-rating', order.handle);
});

test('served time is capped and rounded down', async () => {
  const { elder, volunteer, volunteerActor, order } = await toInService();
  await env.sleep(2 * HOUR + 10 * MINUTE);
  const out = await order.handle.executeUpdate(signOut, { args: [{ actor: volunteerActor, volunteerId: volunteer.id }] });
  // 60 booked + 30 allowance = 90, already a whole number of 30-minute units.
  expect(out.servedMinutes).toBe(90);
  await order.handle.executeUpdate(rateOrder, { args: [{ actor: { id: elder.id, role: 'elder' }, rating: 4, dispute: false }] });
  expect(await balance(volunteer.id)).toMatchObject({ balance: 90 });
  expect(await balance(elder.id)).toMatchObject({ balance: 510, reserved: 0 });
});

test('rejected review releases nothing and ends the order', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await expectUpdateFailure(
    order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'reject' }] }),
    'VALIDATION_FAILED',
  );
  const out = await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'reject', note: '不符合条件' }] });
  expect(out.status).toBe('rejected');
  expect(await order.handle.result()).toMatchObject({ status: 'rejected' });
  expect(await balance(p.elder.id)).toMatchObject({ reserved: 0, available: 600 });
});

test('unreviewed order is reminded, escalated, then expires', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 3 * DAY / MINUTE });
  await env.sleep(DAY + MINUTE);
  let state = await order.handle.query(getOrderState);
  expect(state.reviewReminded).toBe(true);
  expect(state.reviewEscalated).toBe(false);
  await env.sleep(DAY);
  state = await order.handle.query(getOrderState);
  expect(state.reviewEscalated).toBe(true);
  const final = await order.handle.result();
  expect(final.status).toBe('expired');
  const kinds = await db.orm.em.fork().execute<Array<{ kind: string }>>(
    `select kind from notification where subject_id = ? order by kind`,
    [order.orderId],
  );
  expect(kinds.map((k) => k.kind)).toEqual(['review_escalated', 'review_reminder']);
  await recordHistory('order-expired', order.handle);
});

test('unmatched order is cancelled before the start', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  expect(await balance(p.elder.id)).toMatchObject({ reserved: 60 });
  const final = await order.handle.result();
  expect(final).toMatchObject({ status: 'cancelled', cancelReason: 'unmatched' });
  expect(await balance(p.elder.id)).toMatchObject({ reserved: 0, available: 600 });
  await recordHistory('order-unmatched', order.handle);
});

test('volunteer who never signs in is a no-show', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  const final = await order.handle.result();
  expect(final).toMatchObject({ status: 'cancelled', cancelReason: 'no_show' });
  expect(await balance(p.elder.id)).toMatchObject({ reserved: 0 });
  const slots = await db.orm.em.fork().execute(`select * from volunteer_slot where order_id = ?`, [order.orderId]);
  expect(slots).toHaveLength(0);
  await recordHistory('order-no-show', order.handle);
});

test('missing sign-out closes at booked end and flags a call', async () => {
  const { order } = await toInService();
  const final = await order.handle.result();
  expect(final.status).toBe('settled');
  expect(final.flags).toContain('missing_sign_out');
  expect(final.servedMinutes).toBe(60);
  const reasons = await followUps(order.orderId);
  expect(reasons).toContain('missing_sign_out');
  expect(reasons).toContain('missing_rating');
  await recordHistory('order-missing-sign-out', order.handle);
});

test('no rating: follow-up call then automatic settlement', async () => {
  const { volunteer, volunteerActor, order } = await toInService();
  await env.sleep(60 * MINUTE);
  await order.handle.executeUpdate(signOut, { args: [{ actor: volunteerActor, volunteerId: volunteer.id }] });
  await env.sleep(72 * HOUR + MINUTE);
  expect(await order.handle.query(getOrderState)).toMatchObject({ status: 'awaiting_rating' });
  expect(await followUps(order.orderId)).toContain('missing_rating');
  const final = await order.handle.result();
  expect(final).toMatchObject({ status: 'settled', settledMinutes: 60 });
  await recordHistory('order-auto-settled', order.handle);
});

test('disputed time is corrected by staff', async () => {
  const { elder, volunteer, volunteerActor, order } = await toInService();
  await env.sleep(60 * MINUTE);
  await order.handle.executeUpdate(signOut, { args: [{ actor: volunteerActor, volunteerId: volunteer.id }] });
  const disputed = await order.handle.executeUpdate(rateOrder, {
    args: [{ actor: { id: elder.id, role: 'elder' }, rating: 2, dispute: true, disputeNote: '只服务了半小时' }],
  });
  expect(disputed.status).toBe('disputed');
  await env.sleep(8 * DAY);
  expect(await order.handle.query(getOrderState)).toMatchObject({ status: 'disputed' });
  await expectUpdateFailure(
    order.handle.executeUpdate(resolveDispute, { args: [{ actor: reviewer, servedMinutes: 500, note: 'x' }] }),
    'VALIDATION_FAILED',
  );
  const resolved = await order.handle.executeUpdate(resolveDispute, { args: [{ actor: reviewer, servedMinutes: 30, note: '核实为30分钟' }] });
  expect(resolved).toMatchObject({ status: 'settled', settledMinutes: 30 });
  expect(await balance(volunteer.id)).toMatchObject({ balance: 30 });
  expect(await balance(elder.id)).toMatchObject({ balance: 570, reserved: 0 });
  await recordHistory('order-disputed', order.handle);
});

test('elder cancels before sign-in and the reservation is released', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  const out = await order.handle.executeUpdate(cancelOrder, { args: [{ actor: { id: p.elder.id, role: 'elder' }, reason: '临时有事' }] });
  expect(out).toMatchObject({ status: 'cancelled', cancelReason: 'by_elder' });
  expect(await balance(p.elder.id)).toMatchObject({ reserved: 0, available: 600 });
  expect(await readModel(order.orderId)).toMatchObject({ status: 'cancelled', cancel_reason: 'by_elder' });
});

test('elder cannot cancel after sign-in but staff can', async () => {
  const { elder, order } = await toInService();
  await expectUpdateFailure(
    order.handle.executeUpdate(cancelOrder, { args: [{ actor: { id: elder.id, role: 'elder' } }] }),
    'ORDER_STATE_CONFLICT',
  );
  const out = await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer, reason: '核查' }] });
  expect(out).toMatchObject({ status: 'cancelled', cancelReason: 'by_staff' });
  expect(await balance(elder.id)).toMatchObject({ reserved: 0, balance: 600 });
});

test('withdrawal reopens the order for another volunteer', async () => {
  const p = await people();
  const other = await insertPerson(db.orm, { volunteer: true });
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  await expectUpdateFailure(
    order.handle.executeUpdate(withdrawOrder, { args: [{ actor: { id: other.id, role: 'volunteer' }, volunteerId: other.id }] }),
    'FORBIDDEN',
  );
  const reopened = await order.handle.executeUpdate(withdrawOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  expect(reopened.status).toBe('open');
  const taken = await order.handle.executeUpdate(acceptOrder, { args: [{ actor: { id: other.id, role: 'volunteer' }, volunteerId: other.id }] });
  expect(taken).toMatchObject({ status: 'matched', volunteerId: other.id });
  await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
  await order.handle.result();
  await recordHistory('order-withdrawn-and-cancelled', order.handle);
});

test('two volunteers accepting at once: exactly one wins', async () => {
  const p = await people();
  const second = await insertPerson(db.orm, { volunteer: true });
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  const results = await Promise.allSettled([
    order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] }),
    order.handle.executeUpdate(acceptOrder, { args: [{ actor: { id: second.id, role: 'volunteer' }, volunteerId: second.id }] }),
  ]);
  const fulfilled = results.filter((r) => r.status === 'fulfilled');
  const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  expect(fulfilled).toHaveLength(1);
  expect(rejected).toHaveLength(1);
  expect(((rejected[0].reason as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('ORDER_ALREADY_MATCHED');
  const slots = await db.orm.em.fork().execute(`select * from volunteer_slot where order_id = ?`, [order.orderId]);
  expect(slots).toHaveLength(1);
  await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
  await order.handle.result();
  await recordHistory('order-concurrent-accept', order.handle);
});

test('overlapping acceptance is refused', async () => {
  const p = await people();
  const first = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  const second = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 330 });
  for (const o of [first, second]) {
    await o.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  }
  await first.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] });
  await expectUpdateFailure(
    second.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] }),
    'VOLUNTEER_OVERLAP',
  );
  expect(await second.handle.query(getOrderState)).toMatchObject({ status: 'open' });
  for (const o of [first, second]) await o.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
});

test('uninsured or suspended volunteers cannot accept', async () => {
  const p = await people();
  const uninsured = await insertPerson(db.orm, { volunteer: true, insurance: 'none' });
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await expectUpdateFailure(
    order.handle.executeUpdate(acceptOrder, { args: [{ actor: { id: uninsured.id, role: 'volunteer' }, volunteerId: uninsured.id }] }),
    'INSURANCE_NOT_CONFIRMED',
  );
  await db.orm.em.fork().execute(`update person set volunteer_status = 'suspended' where id = ?`, [p.volunteer.id]);
  await expectUpdateFailure(
    order.handle.executeUpdate(acceptOrder, { args: [{ actor: p.volunteerActor, volunteerId: p.volunteer.id }] }),
    'VOLUNTEER_SUSPENDED',
  );
  await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
});

test('out-of-order steps are rejected', async () => {
  const p = await people();
  const order = await startOrder(env, db.orm, taskQueue, { elderId: p.elder.id, startInMinutes: 300 });
  const step = { actor: p.volunteerActor, volunteerId: p.volunteer.id };
  await expectUpdateFailure(order.handle.executeUpdate(signOut, { args: [step] }), 'ORDER_STATE_CONFLICT');
  await expectUpdateFailure(order.handle.executeUpdate(acceptOrder, { args: [step] }), 'ORDER_STATE_CONFLICT');
  await expectUpdateFailure(
    order.handle.executeUpdate(rateOrder, { args: [{ actor: { id: p.elder.id, role: 'elder' }, rating: 5, dispute: false }] }),
    'ORDER_STATE_CONFLICT',
  );
  await order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] });
  await order.handle.executeUpdate(acceptOrder, { args: [step] });
  // Sign-in opens 30 minutes before the start, which is 5 hours away.
  await expectUpdateFailure(order.handle.executeUpdate(signIn, { args: [step] }), 'SIGN_IN_WINDOW_CLOSED');
  const state = await order.handle.query(getOrderState);
  expect(state.status).toBe('matched');
  await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
});

test('approval fails when the elder cannot cover the booking', async () => {
  const elder = await insertPerson(db.orm, { elder: true });
  await fund(db.orm, elder.id, 30);
  const order = await startOrder(env, db.orm, taskQueue, { elderId: elder.id, startInMinutes: 300, bookedMinutes: 60 });
  await expectUpdateFailure(
    order.handle.executeUpdate(reviewOrder, { args: [{ actor: reviewer, decision: 'approve' }] }),
    'INSUFFICIENT_BALANCE',
  );
  expect(await order.handle.query(getOrderState)).toMatchObject({ status: 'pending_review' });
  await order.handle.executeUpdate(cancelOrder, { args: [{ actor: reviewer }] });
});

test('retried settlement activity pays once', async () => {
  const elder = await insertPerson(db.orm, { elder: true });
  await fund(db.orm, elder.id, 120);
  const volunteer = await insertPerson(db.orm, { volunteer: true });
  const orderId = randomUUID();
  const acts = createOrderActivities(db.orm, silentLogger);
  await acts.reserveOrderCoins({ orderId, elderId: elder.id, minutes: 60 });
  await acts.reserveOrderCoins({ orderId, elderId: elder.id, minutes: 60 });
  const first = await acts.settleOrder({ orderId, elderId: elder.id, volunteerId: volunteer.id, minutes: 60 });
  const retry = await acts.settleOrder({ orderId, elderId: elder.id, volunteerId: volunteer.id, minutes: 60 });
  expect(first).toEqual({ replayed: false, postedMinutes: 60 });
  expect(retry).toEqual({ replayed: true, postedMinutes: 60 });
  expect(await balance(volunteer.id)).toMatchObject({ balance: 60 });
  expect(await balance(elder.id)).toMatchObject({ balance: 60, reserved: 0 });
  const [{ served }] = await db.orm.em.fork().execute(`select served_minutes as served from person where id = ?`, [volunteer.id]);
  expect(Number(served)).toBe(60);
  const transfers = await db.orm.em.fork().execute(`select id from transfer where order_id = ?`, [orderId]);
  expect(transfers).toHaveLength(1);
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
});
