import type { CaseEvent } from './cases';
import type { Actor } from './order';
import type { WorkflowPolicy } from './policy';

/*
 * Types of an accident insurance claim handed to Volunteer Beijing (志愿北京).
 * Workflow code imports this file, so it contains no I/O and imports only types.
 */

export type ClaimStatus =
  | 'checking_coverage' // is the volunteer insured through the registry or an organisation?
  | 'checking_record' // is the service record on file at the registry?
  | 'backfilling' // the registry lacks the record; back-filling (补录) it
  | 'submitting'
  | 'following' // submitted; its status is checked on a timer
  | 'handed_to_organisation' // insured through an organisation, which an institution calls
  | 'needs_staff' // the registry rejected a request; staff retry or close the claim
  | 'closed' // the registry reported the claim closed
  | 'handed_over' // the organisation confirmed it took the claim over
  | 'not_covered' // insured neither through the registry nor through an organisation
  | 'cancelled'; // closed by staff

export const CLAIM_TERMINAL_STATUSES: readonly ClaimStatus[] = ['closed', 'handed_over', 'not_covered', 'cancelled'];

export const CLAIM_STATUSES: readonly ClaimStatus[] = [
  'checking_coverage',
  'checking_record',
  'backfilling',
  'submitting',
  'following',
  'handed_to_organisation',
  'needs_staff',
  ...CLAIM_TERMINAL_STATUSES,
];

export type ClaimRoute = 'registry' | 'organisation';

/** Review status of a claim as Volunteer Beijing reports it. */
export type RegistryClaimStatus = 'submitted' | 'reviewing' | 'approved' | 'rejected' | 'closed';

export interface AccidentClaimWorkflowInput {
  claimId: string;
  /** The order during which, or on the way to or from which, the volunteer was injured; also the registry record id. */
  orderId: string;
  volunteerId: string;
  districtCode: string;
  /** ISO timestamp of the report; the back-fill deadline counts from it. */
  reportedAt: string;
  settings: WorkflowPolicy;
}

export interface AccidentClaimState {
  claimId: string;
  status: ClaimStatus;
  route?: ClaimRoute;
  /** True once the registry has the service record, pushed at settlement or back-filled. */
  recordOnFile: boolean;
  backfilled: boolean;
  backfillEscalated: boolean;
  registryStatus?: RegistryClaimStatus;
  /**
   * Outcome of the registry's review. NOTE: the registry reports a closed
   * claim without its outcome, so this stays unset when no check saw the
   * claim approved or rejected before it closed.
   */
  registryOutcome?: 'approved' | 'rejected';
  registryStatusSince?: string;
  /** Escalations sent because the registry's response was overdue. */
  answerEscalations: number;
  handoffEscalated: boolean;
  /** Requests sent to the registry, failed ones included. */
  registryRequests: number;
  lastError?: string;
  closedBy?: string;
  version: number;
  events: CaseEvent[];
}

export interface CloseClaimInput {
  actor: Actor;
  reason: string;
}

export interface RetryClaimInput {
  actor: Actor;
}

/** Coverage of a volunteer as our records hold it. */
export interface ClaimCoverage {
  insurance: 'registry' | 'organisation' | 'none';
}
