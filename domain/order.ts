import type { WorkflowPolicy } from './policy';

/*
 * Types and pure rules of a service order (服务订单). Workflow code imports
 * this file, so it does no I/O and imports only types.
 */

export type OrderStatus =
  | 'pending_review' // 待审核
  | 'open' // approved, waiting for a volunteer
  | 'matched' // a volunteer accepted
  | 'in_service' // signed in (签到)
  | 'awaiting_rating' // signed out (签出), waiting for the elder's rating (评价)
  | 'disputed' // the elder disputed the recorded time; staff decide
  | 'settled' // coins moved (结算)
  | 'rejected' // rejected in review
  | 'expired' // still unreviewed at the scheduled start
  | 'cancelled';

export const TERMINAL_STATUSES: readonly OrderStatus[] = ['settled', 'rejected', 'expired', 'cancelled'];

export type CancelReason = 'by_elder' | 'by_staff' | 'unmatched' | 'no_show';

export type OrderFlag = 'missing_sign_out' | 'night_service' | 'disputed' | 'sampled';

export type ActorRole = 'elder' | 'volunteer' | 'agent' | 'street_reviewer' | 'district_officer' | 'city_admin' | 'operator';

/** Who performed a step; an institution agent also names the person acted for. */
export interface Actor {
  id: string;
  role: ActorRole;
  districtCode?: string;
  onBehalfOf?: string;
  /** The institution of an agent. */
  institutionId?: string;
}

export interface OrderWorkflowInput {
  orderId: string;
  elderId: string;
  districtCode: string;
  /** ISO timestamps. */
  scheduledStart: string;
  requestedAt: string;
  bookedMinutes: number;
  settings: WorkflowPolicy;
}

export interface OrderEvent {
  at: string;
  event: string;
  actorId?: string;
  onBehalfOf?: string;
  detail?: string;
}

export interface OrderState {
  orderId: string;
  status: OrderStatus;
  cancelReason?: CancelReason;
  volunteerId?: string;
  reviewerId?: string;
  reviewNote?: string;
  reserved: boolean;
  signedInAt?: string;
  signedOutAt?: string;
  servedMinutes?: number;
  settledMinutes?: number;
  rating?: number;
  ratingComment?: string;
  disputed: boolean;
  flags: OrderFlag[];
  reviewReminded: boolean;
  reviewEscalated: boolean;
  /** Grows by one on every change; the read model ignores older snapshots. */
  version: number;
  events: OrderEvent[];
}

export interface ReviewInput {
  actor: Actor;
  decision: 'approve' | 'reject';
  note?: string;
}

export interface AcceptInput {
  actor: Actor;
  volunteerId: string;
  /** A volunteer under 18 accepts only together with their guardian, and sets this to true. */
  withGuardian?: boolean;
}

export interface StepInput {
  actor: Actor;
  /** The volunteer acting, or the volunteer an agent acts for. */
  volunteerId: string;
}

export interface RateInput {
  actor: Actor;
  rating: number;
  comment?: string;
  /** True when the elder disputes the recorded time. */
  dispute: boolean;
  disputeNote?: string;
}

export interface ResolveDisputeInput {
  actor: Actor;
  servedMinutes: number;
  note: string;
}

export interface CancelInput {
  actor: Actor;
  reason?: string;
}

/**
 * Served minutes from sign-in to sign-out: capped at the booked duration plus
 * the allowance, then rounded down to whole rounding units. Returns minutes.
 */
export function computeServedMinutes(
  signedInAtMs: number,
  signedOutAtMs: number,
  bookedMinutes: number,
  settings: WorkflowPolicy,
): number {
  const { policy, minuteMs } = settings;
  const elapsed = Math.max(0, Math.floor((signedOutAtMs - signedInAtMs) / minuteMs));
  const capped = Math.min(elapsed, bookedMinutes + policy.servedCapAllowanceMinutes);
  return capped - (capped % policy.servedRoundingMinutes);
}

/** Asia/Shanghai has had no daylight saving time since 1991, so the offset is fixed. */
const SHANGHAI_OFFSET_MS = 8 * 60 * 60 * 1000;

/**
 * True when any part of [startMs, endMs) falls in the night hours in
 * Asia/Shanghai (by default 22:00 to 06:00). Times are real instants, so the
 * demo clock scale does not apply here.
 */
export function overlapsNight(startMs: number, endMs: number, nightStartHour: number, nightEndHour: number): boolean {
  const hourMs = 60 * 60 * 1000;
  const dayMs = 24 * hourMs;
  const localStart = startMs + SHANGHAI_OFFSET_MS;
  const localEnd = endMs + SHANGHAI_OFFSET_MS;
  const firstDay = Math.floor(localStart / dayMs) - 1;
  const lastDay = Math.floor(localEnd / dayMs);
  for (let day = firstDay; day <= lastDay; day += 1) {
    const nightStart = day * dayMs + nightStartHour * hourMs;
    const nightEnd = (nightEndHour <= nightStartHour ? (day + 1) * dayMs : day * dayMs) + nightEndHour * hourMs;
    if (localStart < nightEnd && localEnd > nightStart) return true;
  }
  return false;
}

export function orderWorkflowId(orderId: string): string {
  return `order-${orderId}`;
}

export function reservationId(orderId: string): string {
  return `order:${orderId}:reservation`;
}

export function settlementTransferId(orderId: string): string {
  return `order:${orderId}:settlement`;
}
