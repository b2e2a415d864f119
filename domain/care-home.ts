import type { CaseEvent } from './cases';
import type { Actor } from './order';
import type { Policy, WorkflowPolicy } from './policy';

/*
 * Types and pure rules of a care-home admission application (公办养老机构入住).
 * Workflow code imports this file, so it contains no I/O and imports only types.
 */

export type CareHomeCaseStatus =
  | 'checking_eligibility'
  | 'awaiting_assessment' // the district's ability assessment (能力评估)
  | 'awaiting_approval' // the district's decision
  | 'awaiting_placement' // queued for a free bed in a public care home of the district
  | 'awaiting_admission' // a bed is held; the case waits on the applicant to move in
  | 'admitted'
  | 'ineligible'
  | 'rejected'
  | 'withdrawn';

export const CARE_HOME_TERMINAL_STATUSES: readonly CareHomeCaseStatus[] = ['admitted', 'ineligible', 'rejected', 'withdrawn'];

export const CARE_HOME_STATUSES: readonly CareHomeCaseStatus[] = [
  'checking_eligibility',
  'awaiting_assessment',
  'awaiting_approval',
  'awaiting_placement',
  'awaiting_admission',
  ...CARE_HOME_TERMINAL_STATUSES,
];

/** Reason an applicant is not eligible. Several may apply at once. */
export type EligibilityProblem =
  | 'person_not_found'
  | 'too_young'
  | 'served_time_short'
  | 'balance_short'
  | 'on_dishonesty_list';

/** Applicant facts the eligibility check reads. Counts are minutes. */
export interface ApplicantFacts {
  found: boolean;
  ageYears: number;
  /** Time served on settled orders only; gifted, granted and welfare coins never count. */
  servedMinutes: number;
  availableMinutes: number;
  onDishonestyList: boolean;
}

/** Returns every eligibility rule the applicant fails; an empty list means eligible. */
export function eligibilityProblems(facts: ApplicantFacts, policy: Policy): EligibilityProblem[] {
  if (!facts.found) return ['person_not_found'];
  const problems: EligibilityProblem[] = [];
  if (facts.ageYears < policy.careHomeMinAge) problems.push('too_young');
  if (facts.servedMinutes < policy.careHomeServedMinutes) problems.push('served_time_short');
  if (facts.availableMinutes < policy.careHomeCoinMinutes) problems.push('balance_short');
  if (facts.onDishonestyList) problems.push('on_dishonesty_list');
  return problems;
}

/** True when the assessment or the applicant's age shows the frailty or disability that admission requires. */
export function qualifiesAsFrail(abilityLevel: number, ageYears: number, policy: Policy): boolean {
  return abilityLevel >= policy.careHomeMinAbilityLevel || ageYears >= policy.veryOldAge;
}

export interface CareHomeWorkflowInput {
  caseId: string;
  applicantId: string;
  districtCode: string;
  /** ISO timestamp of the application; the bed queue runs in this order. */
  appliedAt: string;
  settings: WorkflowPolicy;
}

/** Reminder and escalation progress of the step the case is in; reset when the status changes. */
export interface StepDeadline {
  reminded: boolean;
  escalated: boolean;
  /** Reminders sent while waiting for a bed. */
  placementReminders: number;
}

export interface CareHomeCaseState {
  caseId: string;
  status: CareHomeCaseStatus;
  problems: EligibilityProblem[];
  ageYears?: number;
  reserved: boolean;
  abilityLevel?: number;
  assessedBy?: string;
  decidedBy?: string;
  decisionNote?: string;
  careHomeId?: string;
  bedId?: string;
  /** Waiting cases of the district applied before this one, as of the last placement attempt. */
  casesAhead?: number;
  spentMinutes?: number;
  stepStartedAt: string;
  deadline: StepDeadline;
  /** Grows by one on every change; the read model ignores older snapshots. */
  version: number;
  events: CaseEvent[];
}

export interface AssessmentInput {
  actor: Actor;
  /** Ability level 0 (intact) to 4 (complete loss of ability), GB/T 42195-2022. */
  abilityLevel: number;
  note?: string;
}

export interface DecisionInput {
  actor: Actor;
  note?: string;
}

export interface RejectionInput {
  actor: Actor;
  reason: string;
}

export interface PlacementInput {
  actor: Actor;
  /** A home of the case's district to place in; any home with a free bed when omitted. */
  careHomeId?: string;
}

export interface WithdrawalInput {
  actor: Actor;
  reason?: string;
}

/** Result of one placement attempt. */
export interface PlacementResult {
  placed: boolean;
  careHomeId?: string;
  bedId?: string;
  /** Reason the case was not placed. */
  reason?: 'no_free_bed' | 'not_first_in_queue';
  casesAhead: number;
  /** Free beds left in the district after this attempt. */
  freeBeds: number;
}
