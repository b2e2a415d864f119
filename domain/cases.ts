import type { Actor } from './order';

/*
 * Types shared by the long-running cases: care-home admission applications
 * and accident insurance claims. Workflow code imports this file, so it contains
 * no I/O and imports only types.
 */

export type CaseKind = 'care_home' | 'accident_claim';

/** One entry of a case timeline, numbered from 0 by the workflow so the read model stores each once. */
export interface CaseEvent {
  seq: number;
  at: string;
  event: string;
  actorId?: string;
  onBehalfOf?: string;
  detail?: string;
}

/**
 * A recorded follow-up call (回访), sent to the workflow of the case or claim
 * it belongs to. The free-text outcome stays in the follow_up_call table,
 * because workflow histories carry no personal data.
 */
export interface FollowUpOutcome {
  callId: string;
  reason: string;
  reached: boolean;
  actor: Actor;
}

/** Audience of a reminder or escalation: the office responsible for a step, or the city above it. */
export type CaseAudience = 'district_office' | 'city_office' | 'district_staff';

export function careHomeWorkflowId(caseId: string): string {
  return `care-home-${caseId}`;
}

export function accidentClaimWorkflowId(claimId: string): string {
  return `accident-claim-${claimId}`;
}

export function careHomeReservationId(caseId: string): string {
  return `care_home:${caseId}:reservation`;
}

export function careHomeSpendTransferId(caseId: string): string {
  return `care_home:${caseId}:spend`;
}
