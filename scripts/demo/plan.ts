import type { CancelReason } from '../../domain/order';
import type { Policy } from '../../domain/policy';
import { SERVICE_CATEGORY_CODES, ServiceCategoryCode } from '../../domain/reference-data';
import type { RegisteredPerson } from './setup';

/*
 * The demo's order plan: which path each order takes, who requests and
 * serves it, and when it is created and scheduled. Times are offsets in
 * policy minutes from the start of the order phase; the driver turns them
 * into wall-clock instants with the clock scale (minuteMs).
 */

export const PATH_NAMES = [
  'auto_settled',
  'rated',
  'disputed',
  'auto_closed',
  'overlap_refused',
  'withdrawn',
  'rejected',
  'cancelled_by_elder',
  'cancelled_by_staff',
  'unmatched',
  'no_show',
  'expired',
] as const;

export type PathName = (typeof PATH_NAMES)[number];

export type FinalStatus = 'settled' | 'rejected' | 'expired' | 'cancelled';

export interface ExpectedOutcome {
  status: FinalStatus;
  cancelReason?: CancelReason;
}

interface PathSpec {
  /** Share of the orders, relative to the other paths. */
  weight: number;
  expected: ExpectedOutcome;
  /** Bilingual label for the report. */
  label: string;
}

export const PATHS: Record<PathName, PathSpec> = {
  auto_settled: { weight: 24, expected: { status: 'settled' }, label: '未评价自动结算 settled without rating' },
  rated: { weight: 40, expected: { status: 'settled' }, label: '评价后结算 settled after rating' },
  disputed: { weight: 20, expected: { status: 'settled' }, label: '时长争议后更正 disputed, corrected by staff' },
  auto_closed: { weight: 20, expected: { status: 'settled' }, label: '未签出自动关闭 closed without sign-out' },
  overlap_refused: { weight: 20, expected: { status: 'settled' }, label: '时段重叠被拒 overlap refused' },
  withdrawn: { weight: 20, expected: { status: 'settled' }, label: '退单后他人承接 withdrawn, re-accepted' },
  rejected: { weight: 16, expected: { status: 'rejected' }, label: '审核驳回 rejected in review' },
  cancelled_by_elder: {
    weight: 16,
    expected: { status: 'cancelled', cancelReason: 'by_elder' },
    label: '老人取消 cancelled by the elder',
  },
  cancelled_by_staff: {
    weight: 16,
    expected: { status: 'cancelled', cancelReason: 'by_staff' },
    label: '工作人员取消 cancelled by staff',
  },
  unmatched: {
    weight: 16,
    expected: { status: 'cancelled', cancelReason: 'unmatched' },
    label: '无人接单 unmatched',
  },
  no_show: { weight: 16, expected: { status: 'cancelled', cancelReason: 'no_show' }, label: '志愿者未签到 no-show' },
  expired: { weight: 16, expected: { status: 'expired' }, label: '未审核过期 expired unreviewed' },
};

/** The status an order is cancelled in, for the two cancellation paths. */
export type CancelStage = 'pending_review' | 'open' | 'matched' | 'in_service' | 'awaiting_rating';

/** The elder may cancel only before a volunteer signs in. */
const ELDER_CANCEL_STAGES: readonly CancelStage[] = ['pending_review', 'open', 'matched'];
/** Staff may cancel at any time before settlement. */
const STAFF_CANCEL_STAGES: readonly CancelStage[] = ['pending_review', 'open', 'matched', 'in_service', 'awaiting_rating'];
const STAGES_WITH_VOLUNTEER: readonly CancelStage[] = ['matched', 'in_service', 'awaiting_rating'];

export interface OrderPlan {
  index: number;
  path: PathName;
  elder: RegisteredPerson;
  category: ServiceCategoryCode;
  bookedMinutes: number;
  /** Policy minutes from the start of the order phase until the order is requested. */
  createAtMinute: number;
  /** Policy minutes from the start of the order phase until the scheduled start. */
  startAtMinute: number;
  /** The volunteer who accepts the order and, on the serving paths, serves it. */
  volunteer?: RegisteredPerson;
  /** On the withdrawn path: the volunteer who accepts first and then withdraws. */
  withdrawingVolunteer?: RegisteredPerson;
  /** On the unmatched path: a volunteer without insurance whose acceptance is refused. */
  uninsuredVolunteer?: RegisteredPerson;
  /** On the overlap path: the order, at the same time, whose volunteer tries this one too. */
  overlapHost?: OrderPlan;
  cancelStage?: CancelStage;
}

/** Orders scheduled later than the minimum lead by this much, so a late wake-up still passes the lead check. */
const LEAD_SLACK_MINUTES = 60;
/**
 * Time to review and match an order before its match deadline. A withdrawn
 * order needs four requests in it after its creation, so it allows for slow
 * responses on a loaded machine (480 policy minutes are 9.6 s at 20 ms).
 */
const MATCH_TIME_MINUTES = 480;
/** The automatically settled orders are requested first, spread over this many policy minutes. */
const AUTO_SETTLED_WINDOW_MINUTES = 24 * 60;
/**
 * The other orders are spread over this many policy minutes. They end well
 * before the automatic settlements, so spreading them thin costs no wall
 * time and keeps the request rate near one order a second at 20 ms.
 */
const OTHER_WINDOW_MINUTES = 150 * 60;
/** A volunteer's orders are kept at least this far apart, so the demo itself never books an overlap. */
const VOLUNTEER_GAP_MINUTES = 60;
/** Booked durations, cycled over the orders; all within the default 30 minutes to 4 hours. */
const BOOKED_MINUTES_CYCLE = [60, 90, 120, 30, 180, 60, 240, 120] as const;
/** The disputed path corrects the served time down by one rounding unit, so it books at least two. */
const MIN_DISPUTED_BOOKED_UNITS = 2;

/** Paths whose orders may lend their volunteer to an overlap attempt, in order of preference. */
const OVERLAP_HOST_PATHS: readonly PathName[] = ['rated', 'disputed', 'auto_closed'];

export interface PlanInput {
  orders: number;
  elders: readonly RegisteredPerson[];
  volunteers: readonly RegisteredPerson[];
  policy: Policy;
}

/** Splits `total` over the paths by weight (largest remainder), then lends one order to any path left with none. */
export function countsByPath(total: number): Record<PathName, number> {
  if (!Number.isInteger(total) || total < PATH_NAMES.length) {
    throw new RangeError(`orders must be an integer of at least ${PATH_NAMES.length} (one per path), got ${total}`);
  }
  const weightSum = PATH_NAMES.reduce((sum, path) => sum + PATHS[path].weight, 0);
  const exact = PATH_NAMES.map((path) => (total * PATHS[path].weight) / weightSum);
  const counts = exact.map(Math.floor);
  let left = total - counts.reduce((sum, count) => sum + count, 0);
  const byRemainder = exact
    .map((share, index) => ({ index, remainder: share - Math.floor(share) }))
    .sort((a, b) => b.remainder - a.remainder || a.index - b.index);
  for (const { index } of byRemainder) {
    if (left === 0) break;
    counts[index] += 1;
    left -= 1;
  }
  for (let index = 0; index < counts.length; index++) {
    if (counts[index] > 0) continue;
    const largest = counts.indexOf(Math.max(...counts));
    counts[largest] -= 1;
    counts[index] = 1;
  }
  return Object.fromEntries(PATH_NAMES.map((path, index) => [path, counts[index]])) as Record<PathName, number>;
}

/** Policy minutes between requesting an order and its scheduled start. */
export function leadMinutes(policy: Policy): number {
  return Math.max(policy.minLeadMinutes, policy.matchDeadlineBeforeStartMinutes + MATCH_TIME_MINUTES) + LEAD_SLACK_MINUTES;
}

/**
 * Plans `orders` orders over the given people. Throws when there are too few
 * elders or insured volunteers to carry the plan without overlaps.
 */
export function planOrders(input: PlanInput): OrderPlan[] {
  const { policy } = input;
  if (input.elders.length === 0) throw new Error('cannot plan orders: no elder is registered');
  const insured = input.volunteers.filter((volunteer) => volunteer.insured);
  const uninsured = input.volunteers.filter((volunteer) => !volunteer.insured);
  if (insured.length < 2) throw new Error(`cannot plan orders: ${insured.length} insured volunteer(s), at least 2 needed`);

  const counts = countsByPath(input.orders);
  const paths = interleave(counts);
  const lead = leadMinutes(policy);
  const rounding = policy.servedRoundingMinutes;

  const autoSettledTotal = counts.auto_settled;
  const otherTotal = input.orders - autoSettledTotal;
  let autoSettledSeen = 0;
  let otherSeen = 0;
  const stageSeen = { cancelled_by_elder: 0, cancelled_by_staff: 0 };

  const plans: OrderPlan[] = paths.map((path, index) => {
    let createAtMinute: number;
    if (path === 'auto_settled') {
      createAtMinute = Math.floor((AUTO_SETTLED_WINDOW_MINUTES * autoSettledSeen++) / autoSettledTotal);
    } else {
      createAtMinute = Math.floor((OTHER_WINDOW_MINUTES * otherSeen++) / Math.max(1, otherTotal));
    }
    let bookedMinutes = clampBooked(BOOKED_MINUTES_CYCLE[index % BOOKED_MINUTES_CYCLE.length], policy);
    if (path === 'disputed') bookedMinutes = Math.max(bookedMinutes, MIN_DISPUTED_BOOKED_UNITS * rounding);
    const plan: OrderPlan = {
      index,
      path,
      elder: input.elders[index % input.elders.length],
      category: SERVICE_CATEGORY_CODES[index % SERVICE_CATEGORY_CODES.length],
      bookedMinutes,
      createAtMinute,
      startAtMinute: createAtMinute + lead,
    };
    if (path === 'cancelled_by_elder' || path === 'cancelled_by_staff') {
      const stages = path === 'cancelled_by_elder' ? ELDER_CANCEL_STAGES : STAFF_CANCEL_STAGES;
      plan.cancelStage = stages[stageSeen[path]++ % stages.length];
    }
    if (path === 'unmatched' && uninsured.length > 0) {
      plan.uninsuredVolunteer = uninsured[index % uninsured.length];
    }
    return plan;
  });

  pairOverlapHosts(plans);
  assignVolunteers(plans, insured);
  return plans;
}

/** Orders the paths round-robin, so every stretch of the run mixes them. */
function interleave(counts: Record<PathName, number>): PathName[] {
  const left = { ...counts };
  const order: PathName[] = [];
  while (order.length < PATH_NAMES.reduce((sum, path) => sum + counts[path], 0)) {
    for (const path of PATH_NAMES) {
      if (left[path] > 0) {
        order.push(path);
        left[path] -= 1;
      }
    }
  }
  return order;
}

function clampBooked(minutes: number, policy: Policy): number {
  return Math.min(policy.maxBookedMinutes, Math.max(policy.minBookedMinutes, minutes));
}

/** Gives each overlap order a host order and moves it to the host's creation and start time. */
function pairOverlapHosts(plans: OrderPlan[]): void {
  const hosts = OVERLAP_HOST_PATHS.flatMap((path) => plans.filter((plan) => plan.path === path));
  const overlapPlans = plans.filter((plan) => plan.path === 'overlap_refused');
  if (hosts.length < overlapPlans.length) {
    throw new Error(`cannot plan ${overlapPlans.length} overlap orders: only ${hosts.length} host orders`);
  }
  overlapPlans.forEach((plan, i) => {
    const host = hosts[i];
    plan.overlapHost = host;
    plan.createAtMinute = host.createAtMinute;
    plan.startAtMinute = host.startAtMinute;
  });
}

function needsVolunteer(plan: OrderPlan): boolean {
  switch (plan.path) {
    case 'rejected':
    case 'expired':
    case 'unmatched':
      return false;
    case 'cancelled_by_elder':
    case 'cancelled_by_staff':
      return STAGES_WITH_VOLUNTEER.includes(plan.cancelStage!);
    default:
      return true;
  }
}

/**
 * Assigns volunteers so that no volunteer is given two orders within
 * VOLUNTEER_GAP_MINUTES of each other. Prefers a volunteer of the elder's
 * district, then the least busy one.
 */
function assignVolunteers(plans: OrderPlan[], insured: readonly RegisteredPerson[]): void {
  const busy = new Map<string, Array<[number, number]>>(insured.map((volunteer) => [volunteer.id, []]));
  const isFree = (volunteer: RegisteredPerson, from: number, to: number) =>
    busy.get(volunteer.id)!.every(([start, end]) => to <= start || from >= end);

  const pick = (plan: OrderPlan, exclude: ReadonlySet<string>): RegisteredPerson => {
    const from = plan.startAtMinute - VOLUNTEER_GAP_MINUTES;
    const to = plan.startAtMinute + plan.bookedMinutes + VOLUNTEER_GAP_MINUTES;
    const candidates = insured
      .filter((volunteer) => !exclude.has(volunteer.id) && isFree(volunteer, from, to))
      .sort(
        (a, b) =>
          Number(b.districtCode === plan.elder.districtCode) - Number(a.districtCode === plan.elder.districtCode) ||
          busy.get(a.id)!.length - busy.get(b.id)!.length,
      );
    const chosen = candidates[0];
    if (!chosen) {
      throw new Error(`cannot plan order ${plan.index} (${plan.path}): no insured volunteer is free at its time`);
    }
    busy.get(chosen.id)!.push([from, to]);
    return chosen;
  };

  // Hosts first, so every overlap order can exclude its host's volunteer.
  const ordered = [...plans].sort((a, b) => Number(a.path === 'overlap_refused') - Number(b.path === 'overlap_refused'));
  for (const plan of ordered) {
    if (!needsVolunteer(plan)) continue;
    const exclude = new Set<string>();
    if (plan.overlapHost) exclude.add(plan.overlapHost.volunteer!.id);
    if (plan.path === 'withdrawn') {
      plan.withdrawingVolunteer = pick(plan, exclude);
      exclude.add(plan.withdrawingVolunteer.id);
    }
    plan.volunteer = pick(plan, exclude);
  }
}

/**
 * Minutes each elder needs for their planned orders: every booking plus the
 * allowance by which served time may exceed it, rounded up to whole coins.
 */
export function fundingByElder(plans: readonly OrderPlan[], policy: Policy): Map<string, number> {
  const needed = new Map<string, number>();
  for (const plan of plans) {
    const minutes = plan.bookedMinutes + policy.servedCapAllowanceMinutes;
    needed.set(plan.elder.id, (needed.get(plan.elder.id) ?? 0) + minutes);
  }
  for (const [elderId, minutes] of needed) {
    const rounded = Math.ceil(minutes / 60) * 60;
    if (rounded > policy.grantCapMinutesPerElderPerYear) {
      throw new Error(
        `elder ${elderId} would need ${rounded} minutes of grants, above the yearly cap of ` +
          `${policy.grantCapMinutesPerElderPerYear}; plan fewer orders or more elders`,
      );
    }
    needed.set(elderId, rounded);
  }
  return needed;
}
