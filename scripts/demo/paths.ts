import { computeServedMinutes } from '../../domain/order';
import { sleepUntil } from './concurrency';
import { FlowEnvironment, OrderDriver, OrderView, StepError } from './driver';
import { OrderPlan, PATHS, PathName } from './plan';
import type { Progress } from './progress';

/** The outcome of one planned order. */
export interface OrderResult {
  plan: OrderPlan;
  orderId?: string;
  /** The order as GET /v1/orders/:id showed it at the end. */
  final?: OrderView;
  /** Ways the final order differs from what its path expects. */
  problems: string[];
  /** Set when a step failed and the flow stopped. */
  error?: string;
}

/** Minutes the staff correction of a disputed order takes off the served time: one rounding unit. */
function correctedServedMinutes(served: number, roundingMinutes: number): number {
  return Math.max(0, served - roundingMinutes);
}

/** Returns the rating the elder gives on the rated paths, from 3 to 5. */
function ratingOf(plan: OrderPlan): number {
  return 3 + (plan.index % 3);
}

/** A dispute comes with a low rating. */
const DISPUTE_RATING = 2;

function expectedRating(plan: OrderPlan): number | undefined {
  if (plan.path === 'auto_settled') return undefined;
  return plan.path === 'disputed' ? DISPUTE_RATING : ratingOf(plan);
}

type Flow = (driver: OrderDriver, env: FlowEnvironment) => Promise<OrderView>;

/** One flow per path; each returns the order in its final status. */
const FLOWS: Record<PathName, Flow> = {
  async rated(d) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.volunteer!);
    await d.serve(d.plan.volunteer!);
    return d.rate(ratingOf(d.plan));
  },

  async auto_settled(d, env) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.volunteer!);
    const signedOut = await d.serve(d.plan.volunteer!);
    const settleAt = Date.parse(signedOut.signedOutAt!) + d.minutesToMs(env.policy.autoSettleAfterSignOutMinutes);
    return d.waitFor('await-auto-settlement', ['settled'], settleAt);
  },

  async disputed(d, env) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.volunteer!);
    const signedOut = await d.serve(d.plan.volunteer!);
    await d.rate(DISPUTE_RATING, 'disputed');
    return d.resolveDispute(correctedServedMinutes(signedOut.served!.minutes, env.policy.servedRoundingMinutes));
  },

  async auto_closed(d, env) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.volunteer!);
    const signedIn = await d.signIn(d.plan.volunteer!);
    const closeAt = bookedEndMs(d.plan, signedIn, env.minuteMs) + d.minutesToMs(env.policy.autoCloseAfterBookedEndMinutes);
    await d.waitFor('await-auto-close', ['awaiting_rating'], closeAt);
    return d.rate(ratingOf(d.plan));
  },

  async overlap_refused(d) {
    const host = d.plan.overlapHost!;
    await d.create();
    await d.approve();
    // The host's volunteer must hold the host order before trying this one.
    await waitForHost(d, host);
    await d.acceptRefused(host.volunteer!, 'VOLUNTEER_OVERLAP');
    await d.accept(d.plan.volunteer!);
    await d.serve(d.plan.volunteer!);
    return d.rate(ratingOf(d.plan));
  },

  async withdrawn(d) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.withdrawingVolunteer!, 'accept-first');
    await d.withdraw(d.plan.withdrawingVolunteer!);
    await d.accept(d.plan.volunteer!, 'accept-second');
    await d.serve(d.plan.volunteer!);
    return d.rate(ratingOf(d.plan));
  },

  async rejected(d) {
    await d.create();
    return d.reject();
  },

  async cancelled_by_elder(d) {
    await reachStage(d);
    return d.cancelAsElder();
  },

  async cancelled_by_staff(d) {
    await reachStage(d);
    return d.cancelAsStaff();
  },

  async unmatched(d, env) {
    await d.create();
    await d.approve();
    if (d.plan.uninsuredVolunteer) await d.acceptRefused(d.plan.uninsuredVolunteer, 'INSURANCE_NOT_CONFIRMED');
    const deadline = d.startAtMs - d.minutesToMs(env.policy.matchDeadlineBeforeStartMinutes);
    return d.waitFor('await-match-deadline', ['cancelled'], deadline);
  },

  async no_show(d, env) {
    await d.create();
    await d.approve();
    await d.accept(d.plan.volunteer!);
    const windowCloses = d.startAtMs + d.minutesToMs(env.policy.signInClosesAfterStartMinutes);
    return d.waitFor('await-sign-in-deadline', ['cancelled'], windowCloses);
  },

  async expired(d) {
    await d.create();
    return d.waitFor('await-expiry', ['expired'], d.startAtMs);
  },
};

/** Computes the booked end as the workflow does: the later of start and sign-in, plus the booking. */
function bookedEndMs(plan: OrderPlan, view: OrderView, minuteMs: number): number {
  const begin = Math.max(Date.parse(view.scheduledStart), Date.parse(view.signedInAt!));
  return begin + plan.bookedMinutes * minuteMs;
}

/** Moves a cancellation order to the status its plan cancels it in. */
async function reachStage(d: OrderDriver): Promise<void> {
  const stage = d.plan.cancelStage!;
  await d.create();
  if (stage === 'pending_review') return;
  await d.approve();
  if (stage === 'open') return;
  await d.accept(d.plan.volunteer!);
  if (stage === 'matched') return;
  await d.signIn(d.plan.volunteer!);
  if (stage === 'in_service') return;
  await d.signOut(d.plan.volunteer!);
}

async function waitForHost(d: OrderDriver, host: OrderPlan): Promise<void> {
  const signal = d.env.hostMatched.get(host.index);
  if (!signal) throw new StepError(`order #${d.plan.index} (overlap_refused): host order #${host.index} has no signal`);
  const deadline = d.startAtMs - d.minutesToMs(d.env.policy.matchDeadlineBeforeStartMinutes);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`host order #${host.index} was not matched before the match deadline`)),
      Math.max(0, deadline - Date.now()),
    );
  });
  try {
    await Promise.race([signal.promise, timeout]);
  } catch (err) {
    throw new StepError(`order #${d.plan.index} (overlap_refused), step wait-for-host: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Compares a final order with what its path expects: the final status and
 * cancel reason, and on settled paths the served and settled minutes, the
 * rating, the flags and the volunteer.
 */
export function checkOutcome(plan: OrderPlan, view: OrderView, env: FlowEnvironment): string[] {
  const problems: string[] = [];
  const expected = PATHS[plan.path].expected;
  if (view.status !== expected.status) problems.push(`status ${view.status}, expected ${expected.status}`);
  if (expected.cancelReason && view.cancelReason !== expected.cancelReason) {
    problems.push(`cancel reason ${view.cancelReason ?? 'none'}, expected ${expected.cancelReason}`);
  }
  if (expected.status !== 'settled') {
    if (view.settled !== undefined) problems.push(`settled ${view.settled.minutes} minutes on an order that was not served`);
    return problems;
  }

  if (!view.signedInAt || !view.signedOutAt || !view.served || !view.settled) {
    problems.push('a settled order lacks sign-in, sign-out, served or settled time');
    return problems;
  }
  const recorded = computeServedMinutes(Date.parse(view.signedInAt), Date.parse(view.signedOutAt), plan.bookedMinutes, {
    policy: env.policy,
    minuteMs: env.minuteMs,
  });
  const served = plan.path === 'disputed' ? correctedServedMinutes(recorded, env.policy.servedRoundingMinutes) : recorded;
  if (view.served.minutes !== served) problems.push(`served ${view.served.minutes} minutes, expected ${served}`);
  if (view.settled.minutes !== served) problems.push(`settled ${view.settled.minutes} minutes, expected ${served}`);
  if (served <= 0) problems.push('served time is zero on a serving path');

  if (view.volunteerId !== plan.volunteer?.id) problems.push(`volunteer ${view.volunteerId}, expected ${plan.volunteer?.id}`);
  const rating = expectedRating(plan);
  if (view.rating !== rating) problems.push(`rating ${view.rating ?? 'none'}, expected ${rating ?? 'none'}`);
  if (plan.path === 'disputed' && !view.disputed) problems.push('the order is not marked disputed');
  if (plan.path === 'auto_closed') {
    if (!view.flags.includes('missing_sign_out')) problems.push('flag missing_sign_out is absent');
    if (Date.parse(view.signedOutAt) !== bookedEndMs(plan, view, env.minuteMs)) {
      problems.push(`closed at ${view.signedOutAt}, expected the booked end`);
    }
  }
  return problems;
}

/**
 * Runs every planned order as its own concurrent flow, each starting at its
 * planned creation time, and reports progress as flows finish. A failed flow
 * is recorded in its result and never stops the others.
 */
export async function runOrderFlows(plans: readonly OrderPlan[], env: FlowEnvironment, progress: Progress): Promise<OrderResult[]> {
  let done = 0;
  let failed = 0;
  return Promise.all(
    plans.map(async (plan): Promise<OrderResult> => {
      const driver = new OrderDriver(env, plan);
      const result: OrderResult = { plan, problems: [] };
      try {
        await sleepUntil(driver.atMinute(plan.createAtMinute));
        await FLOWS[plan.path](driver, env);
        // The read model is what clients see, so the verdict uses a fresh GET.
        result.final = await driver.get();
        result.problems = checkOutcome(plan, result.final, env);
      } catch (err) {
        result.error = err instanceof Error ? err.message : String(err);
        env.hostMatched.get(plan.index)?.reject(err);
      }
      result.orderId = driver.orderId;
      done += 1;
      if (result.error || result.problems.length > 0) failed += 1;
      progress.update(done, failed);
      return result;
    }),
  );
}
