import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/orders';
import type { RegistryActivities } from '../activities/registry';
import {
  AcceptInput,
  CancelInput,
  CancelReason,
  computeServedMinutes,
  OrderEvent,
  OrderState,
  OrderStatus,
  OrderWorkflowInput,
  overlapsNight,
  RateInput,
  ResolveDisputeInput,
  ReviewInput,
  StepInput,
  TERMINAL_STATUSES,
} from '../domain/order';
import { ORDER_STATUS, VOLUNTEER_ID } from '../domain/search-attributes';
import { fail } from './failures';

export const getOrderState = defineQuery<OrderState>('getOrderState');
export const reviewOrder = defineUpdate<OrderState, [ReviewInput]>('reviewOrder');
export const acceptOrder = defineUpdate<OrderState, [AcceptInput]>('acceptOrder');
export const withdrawOrder = defineUpdate<OrderState, [StepInput]>('withdrawOrder');
export const signIn = defineUpdate<OrderState, [StepInput]>('signIn');
export const signOut = defineUpdate<OrderState, [StepInput]>('signOut');
export const rateOrder = defineUpdate<OrderState, [RateInput]>('rateOrder');
export const resolveDispute = defineUpdate<OrderState, [ResolveDisputeInput]>('resolveDispute');
export const cancelOrder = defineUpdate<OrderState, [CancelInput]>('cancelOrder');

const acts = proxyActivities<OrderActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// Sharing the record with Volunteer Beijing may wait out a registry outage of
// up to a week; a failure to share never undoes the settlement.
const registryActs = proxyActivities<RegistryActivities>({
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '7 days',
  retry: { initialInterval: '10 seconds', backoffCoefficient: 2, maximumInterval: '1 hour' },
});


/** Re-raises a business failure of an activity as the update's own failure, keeping its code. */
function unwrapActivityFailure(err: unknown): never {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
    throw ApplicationFailure.create({
      type: err.cause.type ?? 'INTERNAL',
      message: err.cause.message,
      nonRetryable: true,
      details: err.cause.details as unknown[] | undefined,
    });
  }
  throw err;
}

/**
 * Runs one service order from request to settlement. Staff and volunteer
 * steps arrive as updates, so the caller gets the new state or a coded error.
 * Timers drive review reminders, expiry, the match deadline, the sign-in
 * window, automatic close, the rating window and automatic settlement.
 */
export async function orderWorkflow(input: OrderWorkflowInput): Promise<OrderState> {
  const { policy, minuteMs } = input.settings;
  const minutes = (n: number) => n * minuteMs;
  const startMs = Date.parse(input.scheduledStart);
  const requestedMs = Date.parse(input.requestedAt);

  const state: OrderState = {
    orderId: input.orderId,
    status: 'pending_review',
    reserved: false,
    disputed: false,
    flags: [],
    reviewReminded: false,
    reviewEscalated: false,
    version: 1,
    events: [{ at: input.requestedAt, event: 'requested' }],
  };

  // Handlers run one at a time, and so do the timer actions of the main loop,
  // because most steps await an activity and must see the state they checked.
  let busy = false;
  async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await condition(() => !busy);
    busy = true;
    try {
      return await fn();
    } finally {
      busy = false;
    }
  }

  const isTerminal = () => TERMINAL_STATUSES.includes(state.status);

  function record(event: string, actor?: { id: string; onBehalfOf?: string }, detail?: string): void {
    const entry: OrderEvent = { at: new Date().toISOString(), event };
    if (actor) entry.actorId = actor.id;
    if (actor?.onBehalfOf) entry.onBehalfOf = actor.onBehalfOf;
    if (detail) entry.detail = detail;
    state.events.push(entry);
  }

  async function commit(status: OrderStatus): Promise<void> {
    const statusChanged = state.status !== status;
    state.status = status;
    state.version += 1;
    if (statusChanged) upsertSearchAttributes([{ key: ORDER_STATUS, value: status }]);
    await acts.syncOrder({ orderId: input.orderId, state });
  }

  function requireStatus(allowed: OrderStatus[], step: string): void {
    if (!allowed.includes(state.status)) {
      fail('ORDER_STATE_CONFLICT', `cannot ${step} an order in status ${state.status}; allowed in ${allowed.join(', ')}`);
    }
  }

  function requireVolunteer(volunteerId: string, step: string): void {
    if (state.volunteerId !== volunteerId) {
      fail('FORBIDDEN', `only the volunteer who accepted the order may ${step}`);
    }
  }

  function bookedEndMs(): number {
    const signedIn = state.signedInAt ? Date.parse(state.signedInAt) : startMs;
    return Math.max(startMs, signedIn) + minutes(input.bookedMinutes);
  }

  async function releaseHolds(): Promise<void> {
    if (state.reserved) {
      await acts.releaseOrderCoins({ orderId: input.orderId });
      state.reserved = false;
    }
    if (state.volunteerId) {
      await acts.releaseVolunteerSlot({ orderId: input.orderId });
    }
  }

  async function finishCancelled(reason: CancelReason, actor?: { id: string; onBehalfOf?: string }, note?: string) {
    state.cancelReason = reason;
    record(`cancelled:${reason}`, actor, note);
    await releaseHolds();
    await commit('cancelled');
  }

  async function settle(servedMinutes: number): Promise<void> {
    const volunteerId = state.volunteerId!;
    const paid = await acts.settleOrder({ orderId: input.orderId, elderId: input.elderId, volunteerId, minutes: servedMinutes });
    state.reserved = false;
    state.settledMinutes = paid.postedMinutes;
    await acts.releaseVolunteerSlot({ orderId: input.orderId });
    record('settled', undefined, `${paid.postedMinutes} of ${servedMinutes} served minutes paid`);
    // Math.random is seeded per execution by the SDK, so the sample replays identically.
    if (Math.random() * 100 < policy.followUpSamplePercent && !state.flags.includes('sampled')) {
      state.flags.push('sampled');
      await acts.createFollowUpCall({
        orderId: input.orderId,
        reason: 'sampled',
        districtCode: input.districtCode,
        dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
      });
    }
    await commit('settled');
  }

  async function recordSignOut(signedOutMs: number, automatic: boolean, actor?: StepInput['actor']): Promise<void> {
    state.signedOutAt = new Date(signedOutMs).toISOString();
    state.servedMinutes = computeServedMinutes(Date.parse(state.signedInAt!), signedOutMs, input.bookedMinutes, input.settings);
    record(automatic ? 'closed_without_sign_out' : 'signed_out', actor, `${state.servedMinutes} minutes`);
    const followUps: string[] = [];
    if (automatic) {
      state.flags.push('missing_sign_out');
      followUps.push('missing_sign_out');
    }
    if (overlapsNight(Date.parse(state.signedInAt!), signedOutMs, policy.nightStartHour, policy.nightEndHour)) {
      state.flags.push('night_service');
      followUps.push('night_service');
    }
    for (const reason of followUps) {
      await acts.createFollowUpCall({
        orderId: input.orderId,
        reason,
        districtCode: input.districtCode,
        dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
      });
    }
    await commit('awaiting_rating');
  }

  setHandler(getOrderState, () => state);

  setHandler(
    reviewOrder,
    (req) =>
      exclusive(async () => {
        requireStatus(['pending_review'], 'review');
        if (req.decision === 'approve') {
          try {
            await acts.reserveOrderCoins({ orderId: input.orderId, elderId: input.elderId, minutes: input.bookedMinutes });
          } catch (err) {
            unwrapActivityFailure(err);
          }
          state.reserved = true;
        }
        state.reviewerId = req.actor.id;
        state.reviewNote = req.note;
        record(req.decision === 'approve' ? 'approved' : 'rejected', req.actor, req.note);
        await commit(req.decision === 'approve' ? 'open' : 'rejected');
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['pending_review'], 'review');
        if (req.decision === 'reject' && !req.note) fail('VALIDATION_FAILED', 'a rejection needs a reason in note');
      },
    },
  );

  setHandler(
    acceptOrder,
    (req) =>
      exclusive(async () => {
        if (state.status === 'matched') fail('ORDER_ALREADY_MATCHED', 'another volunteer already accepted this order');
        requireStatus(['open'], 'accept');
        if (Date.now() >= startMs - minutes(policy.matchDeadlineBeforeStartMinutes)) {
          fail('ORDER_STATE_CONFLICT', 'the matching deadline of this order has passed');
        }
        try {
          const eligibility = await acts.checkVolunteerEligibility({
            orderId: input.orderId,
            elderId: input.elderId,
            volunteerId: req.volunteerId,
            withGuardian: req.withGuardian === true,
            adultAge: policy.volunteerMinAge,
          });
          await acts.claimVolunteerSlot({
            orderId: input.orderId,
            volunteerId: req.volunteerId,
            startMs,
            endMs: startMs + minutes(input.bookedMinutes),
            // Histories recorded before the student rule return no result here.
            guardianId: eligibility?.guardianId,
          });
        } catch (err) {
          unwrapActivityFailure(err);
        }
        state.volunteerId = req.volunteerId;
        upsertSearchAttributes([{ key: VOLUNTEER_ID, value: req.volunteerId }]);
        record('accepted', req.actor, req.withGuardian === true ? 'with guardian' : undefined);
        await commit('matched');
        return state;
      }),
    {
      validator: (req) => {
        if (state.status === 'matched') fail('ORDER_ALREADY_MATCHED', 'another volunteer already accepted this order');
        requireStatus(['open'], 'accept');
        if (req.volunteerId === input.elderId) fail('CANNOT_SERVE_SELF', 'a volunteer cannot accept their own order');
      },
    },
  );

  setHandler(
    withdrawOrder,
    (req) =>
      exclusive(async () => {
        requireStatus(['matched'], 'withdraw from');
        requireVolunteer(req.volunteerId, 'withdraw');
        await acts.releaseVolunteerSlot({ orderId: input.orderId });
        state.volunteerId = undefined;
        upsertSearchAttributes([{ key: VOLUNTEER_ID, value: null }]);
        record('withdrawn', req.actor);
        await commit('open');
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['matched'], 'withdraw from');
        requireVolunteer(req.volunteerId, 'withdraw');
      },
    },
  );

  const checkSignInWindow = () => {
    const now = Date.now();
    const opens = startMs - minutes(policy.signInOpensBeforeStartMinutes);
    const closes = startMs + minutes(policy.signInClosesAfterStartMinutes);
    if (now < opens || now > closes) {
      fail(
        'SIGN_IN_WINDOW_CLOSED',
        `sign-in is open from ${new Date(opens).toISOString()} to ${new Date(closes).toISOString()}`,
      );
    }
  };

  setHandler(
    signIn,
    (req) =>
      exclusive(async () => {
        requireStatus(['matched'], 'sign in to');
        requireVolunteer(req.volunteerId, 'sign in');
        checkSignInWindow();
        state.signedInAt = new Date().toISOString();
        record('signed_in', req.actor);
        await commit('in_service');
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['matched'], 'sign in to');
        requireVolunteer(req.volunteerId, 'sign in');
        checkSignInWindow();
      },
    },
  );

  setHandler(
    signOut,
    (req) =>
      exclusive(async () => {
        requireStatus(['in_service'], 'sign out of');
        requireVolunteer(req.volunteerId, 'sign out');
        await recordSignOut(Date.now(), false, req.actor);
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['in_service'], 'sign out of');
        requireVolunteer(req.volunteerId, 'sign out');
      },
    },
  );

  setHandler(
    rateOrder,
    (req) =>
      exclusive(async () => {
        requireStatus(['awaiting_rating'], 'rate');
        state.rating = req.rating;
        state.ratingComment = req.comment;
        if (req.dispute) {
          state.disputed = true;
          state.flags.push('disputed');
          record('disputed', req.actor, req.disputeNote);
          await commit('disputed');
          return state;
        }
        record('rated', req.actor, `${req.rating}`);
        await settle(state.servedMinutes ?? 0);
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['awaiting_rating'], 'rate');
        if (!Number.isInteger(req.rating) || req.rating < 1 || req.rating > 5) {
          fail('VALIDATION_FAILED', 'rating must be a whole number from 1 to 5');
        }
      },
    },
  );

  setHandler(
    resolveDispute,
    (req) =>
      exclusive(async () => {
        requireStatus(['disputed'], 'resolve the dispute of');
        record('dispute_resolved', req.actor, `${state.servedMinutes} -> ${req.servedMinutes} minutes: ${req.note}`);
        state.servedMinutes = req.servedMinutes;
        await settle(req.servedMinutes);
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['disputed'], 'resolve the dispute of');
        const max = input.bookedMinutes + policy.servedCapAllowanceMinutes;
        if (!Number.isInteger(req.servedMinutes) || req.servedMinutes < 0 || req.servedMinutes > max) {
          fail('VALIDATION_FAILED', `servedMinutes must be a whole number from 0 to ${max}`);
        }
      },
    },
  );

  // Staff may cancel until settlement; the requester (an elder, a volunteer
  // redeeming for themselves, or an agent for either) only before sign-in.
  const isStaff = (role: string) => role === 'street_reviewer' || role === 'district_officer' || role === 'city_admin';
  const cancellableBy = (role: string): OrderStatus[] =>
    isStaff(role)
      ? ['pending_review', 'open', 'matched', 'in_service', 'awaiting_rating', 'disputed']
      : ['pending_review', 'open', 'matched'];

  setHandler(
    cancelOrder,
    (req) =>
      exclusive(async () => {
        requireStatus(cancellableBy(req.actor.role), 'cancel');
        await finishCancelled(isStaff(req.actor.role) ? 'by_staff' : 'by_elder', req.actor, req.reason);
        return state;
      }),
    { validator: (req) => requireStatus(cancellableBy(req.actor.role), 'cancel') },
  );

  /** Waits until `done()` is true or the deadline passes; returns true when `done()` became true first. */
  async function waitUntil(deadlineMs: number, done: () => boolean): Promise<boolean> {
    const remaining = deadlineMs - Date.now();
    if (remaining <= 0) return done();
    return condition(done, remaining);
  }

  await acts.syncOrder({ orderId: input.orderId, state });

  // Review (审核): reminders, escalation, and expiry at the scheduled start.
  const reminderAt = requestedMs + minutes(policy.reviewReminderMinutes);
  const escalationAt = requestedMs + minutes(policy.reviewEscalationMinutes);
  while (state.status === 'pending_review') {
    const next = Math.min(
      state.reviewReminded ? Infinity : reminderAt,
      state.reviewEscalated ? Infinity : escalationAt,
      startMs,
    );
    if (await waitUntil(next, () => state.status !== 'pending_review')) break;
    await exclusive(async () => {
      if (state.status !== 'pending_review') return;
      const now = Date.now();
      if (now >= startMs) {
        record('expired');
        await commit('expired');
      } else if (!state.reviewEscalated && now >= escalationAt) {
        state.reviewEscalated = true;
        record('review_escalated');
        await acts.notify({ kind: 'review_escalated', orderId: input.orderId, audience: 'district_office', districtCode: input.districtCode });
        await commit(state.status);
      } else if (!state.reviewReminded && now >= reminderAt) {
        state.reviewReminded = true;
        record('review_reminded');
        await acts.notify({ kind: 'review_reminder', orderId: input.orderId, audience: 'street_reviewers', districtCode: input.districtCode });
        await commit(state.status);
      }
    });
  }

  // Match and sign-in: unmatched orders are cancelled before the start, and a
  // matched volunteer who never signs in is a no-show.
  const matchDeadline = startMs - minutes(policy.matchDeadlineBeforeStartMinutes);
  const signInCloses = startMs + minutes(policy.signInClosesAfterStartMinutes);
  while (state.status === 'open' || state.status === 'matched') {
    const waiting = state.status;
    const deadline = waiting === 'open' ? matchDeadline : signInCloses;
    if (await waitUntil(deadline, () => state.status !== waiting)) continue;
    await exclusive(async () => {
      if (state.status !== waiting) return;
      if (waiting === 'open') {
        await finishCancelled('unmatched');
      } else {
        await finishCancelled('no_show');
        await acts.notify({ kind: 'volunteer_no_show', orderId: input.orderId, audience: 'elder', districtCode: input.districtCode });
      }
    });
  }

  // Service: without a sign-out, the order closes automatically at the booked end.
  if (state.status === 'in_service') {
    const closeAt = bookedEndMs() + minutes(policy.autoCloseAfterBookedEndMinutes);
    if (!(await waitUntil(closeAt, () => state.status !== 'in_service'))) {
      await exclusive(async () => {
        if (state.status === 'in_service') await recordSignOut(bookedEndMs(), true);
      });
    }
  }

  // Rating and settlement: a follow-up call when no rating comes in, automatic
  // settlement after the waiting period unless the elder disputed the time.
  if (state.status === 'awaiting_rating') {
    const signedOutMs = Date.parse(state.signedOutAt!);
    const ratingDue = signedOutMs + minutes(policy.ratingWindowMinutes);
    const settleAt = signedOutMs + minutes(policy.autoSettleAfterSignOutMinutes);
    if (!(await waitUntil(ratingDue, () => state.status !== 'awaiting_rating'))) {
      await exclusive(async () => {
        if (state.status !== 'awaiting_rating') return;
        record('rating_missing');
        await acts.createFollowUpCall({
          orderId: input.orderId,
          reason: 'missing_rating',
          districtCode: input.districtCode,
          dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
        });
        await commit(state.status);
      });
    }
    if (!(await waitUntil(settleAt, () => state.status !== 'awaiting_rating'))) {
      await exclusive(async () => {
        if (state.status !== 'awaiting_rating') return;
        record('auto_settlement');
        await settle(state.servedMinutes ?? 0);
      });
    }
  }

  // A disputed order waits for staff, who resolve or cancel it.
  await condition(isTerminal);

  // The settled service record goes to Volunteer Beijing (志愿北京). The patch
  // marker keeps histories of orders settled before this step replayable.
  if (state.status === 'settled' && patched('push-service-record')) {
    try {
      await registryActs.pushServiceRecord({ orderId: input.orderId });
    } catch (err) {
      log.warn('service record not shared with Volunteer Beijing', { orderId: input.orderId, error: String(err) });
    }
  }
  await condition(allHandlersFinished);
  log.info('order finished', { orderId: input.orderId, status: state.status });
  return state;
}
