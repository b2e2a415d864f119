import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineUpdate,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { ClaimActivities } from '../activities/accident-claim';
import type { CareHomeActivities } from '../activities/care-home';
import type { RegistryActivities } from '../activities/registry';
import {
  AccidentClaimState,
  AccidentClaimWorkflowInput,
  CLAIM_TERMINAL_STATUSES,
  ClaimStatus,
  CloseClaimInput,
  RegistryClaimStatus,
  RetryClaimInput,
} from '../domain/accident-claim';
import type { CaseEvent } from '../domain/cases';
import type { Actor } from '../domain/order';
import { followUpRecorded } from './care-home';
import { fail } from './failures';

export { followUpRecorded };
export const getClaimState = defineQuery<AccidentClaimState>('getClaimState');
export const closeClaim = defineUpdate<AccidentClaimState, [CloseClaimInput]>('closeClaim');
export const retryClaim = defineUpdate<AccidentClaimState, [RetryClaimInput]>('retryClaim');

const db = proxyActivities<ClaimActivities & Pick<CareHomeActivities, 'notifyCase' | 'createCaseFollowUpCall'>>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});

// One attempt per activity: the workflow retries registry calls itself, so
// each attempt and its response is an event of the history and of the timeline.
const registry = proxyActivities<RegistryActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { maximumAttempts: 1 },
});


/** Raised inside the claim's steps when staff closed the claim or the registry needs staff; caught by the main loop. */
class ClaimInterrupted extends Error {
  constructor(readonly reason: 'stopped' | 'needs_staff') {
    super(reason);
  }
}

/**
 * One reported accident, handed to Volunteer Beijing (志愿北京) when the
 * volunteer is insured there: the service record is checked and back-filled
 * (补录) when missing, with an escalation to staff 48 hours after the report,
 * the claim is submitted under our claim id, and its status is checked on a
 * timer until the registry reports it closed, escalating overdue responses. A
 * volunteer insured through an organisation is handed to it by a follow-up call.
 */
export async function accidentClaimWorkflow(input: AccidentClaimWorkflowInput): Promise<AccidentClaimState> {
  const { policy, minuteMs } = input.settings;
  const minutes = (n: number) => n * minuteMs;
  const backfillDeadline = Date.parse(input.reportedAt) + minutes(policy.claimBackfillDeadlineMinutes);

  const state: AccidentClaimState = {
    claimId: input.claimId,
    status: 'checking_coverage',
    recordOnFile: false,
    backfilled: false,
    backfillEscalated: false,
    answerEscalations: 0,
    handoffEscalated: false,
    registryRequests: 0,
    version: 1,
    events: [{ seq: 0, at: input.reportedAt, event: 'reported' }],
  };
  let syncedEvents = 0;
  let retryRequested = false;
  let handoffConfirmed = false;

  const isTerminal = () => CLAIM_TERMINAL_STATUSES.includes(state.status);

  function record(event: string, actor?: Actor, detail?: string): void {
    const entry: CaseEvent = { seq: state.events.length, at: new Date().toISOString(), event };
    if (actor) entry.actorId = actor.id;
    if (actor?.onBehalfOf) entry.onBehalfOf = actor.onBehalfOf;
    if (detail) entry.detail = detail;
    state.events.push(entry);
  }

  async function sync(): Promise<void> {
    const { events, ...snapshot } = state;
    const fresh = events.slice(syncedEvents);
    await db.syncClaim({ state: snapshot, events: fresh });
    syncedEvents += fresh.length;
  }

  async function commit(status: ClaimStatus): Promise<void> {
    // Staff may close the claim while a step awaits the registry; a final status stays final.
    if (isTerminal() && status !== state.status) throw new ClaimInterrupted('stopped');
    state.status = status;
    state.version += 1;
    await sync();
  }

  async function notifyStaff(kind: string): Promise<void> {
    await db.notifyCase({ kind, subjectId: input.claimId, audience: 'district_staff', districtCode: input.districtCode });
  }

  /** Escalates once when the service record is still not confirmed on file 48 hours (policy) after the report. */
  async function checkBackfillDeadline(): Promise<void> {
    if (state.recordOnFile || state.backfillEscalated || state.route === 'organisation') return;
    if (Date.now() < backfillDeadline) return;
    state.backfillEscalated = true;
    record('backfill_overdue', undefined, 'the service record is not on file at Volunteer Beijing 48 hours after the report');
    await notifyStaff('claim_backfill_overdue');
    await commit(state.status);
  }

  /** Sleeps `ms` of workflow time, waking for the back-fill deadline; raises when staff close the claim. */
  async function pause(ms: number): Promise<void> {
    const until = Date.now() + ms;
    while (Date.now() < until) {
      const deadline = state.recordOnFile || state.backfillEscalated ? Infinity : backfillDeadline;
      const wakeAt = Math.min(until, Math.max(deadline, Date.now()));
      await condition(isTerminal, wakeAt - Date.now());
      if (isTerminal()) throw new ClaimInterrupted('stopped');
      await checkBackfillDeadline();
    }
  }

  /**
   * Calls the registry until it responds, waiting longer after each retryable
   * failure. A failure that cannot succeed on retry hands the claim to staff.
   */
  async function callRegistry<T>(step: string, call: () => Promise<T>): Promise<T> {
    let delayMinutes = policy.registryRetryMinutes;
    for (let attempt = 1; ; attempt += 1) {
      if (isTerminal()) throw new ClaimInterrupted('stopped');
      state.registryRequests += 1;
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        const cause = err.cause;
        const type = cause instanceof ApplicationFailure ? (cause.type ?? 'UNKNOWN') : (cause?.name ?? 'UNKNOWN');
        const retryable = !(cause instanceof ApplicationFailure && cause.nonRetryable);
        state.lastError = `${type}: ${cause?.message ?? err.message}`;
        if (!retryable) {
          record(`${step}_failed`, undefined, `attempt ${attempt}: ${state.lastError}`);
          throw new ClaimInterrupted('needs_staff');
        }
        record(`${step}_attempt_failed`, undefined, `attempt ${attempt}: ${state.lastError}; retry in ${delayMinutes} min`);
        await sync();
        await pause(minutes(delayMinutes));
        delayMinutes = Math.min(delayMinutes * 2, policy.registryRetryMaxMinutes);
      }
    }
  }

  /** Makes sure the registry has the service record, back-filling it until a read confirms it. */
  async function ensureRecordOnFile(): Promise<void> {
    await commit('checking_record');
    const found = await callRegistry('service_record_check', () => registry.findRegistryServiceRecord({ orderId: input.orderId }));
    record(found ? 'service_record_on_file' : 'service_record_missing');
    if (found) {
      state.recordOnFile = true;
      await sync();
      return;
    }
    await commit('backfilling');
    await checkBackfillDeadline();
    let delayMinutes = policy.registryRetryMinutes;
    for (let round = 1; ; round += 1) {
      const sent = await callRegistry('backfill', () => registry.backfillServiceRecord({ orderId: input.orderId }));
      record('backfill_sent', undefined, `round ${round}, ${sent.created ? 'new record' : 'record already stored'}`);
      const stored = await callRegistry('backfill_check', () => registry.findRegistryServiceRecord({ orderId: input.orderId }));
      if (stored) {
        state.recordOnFile = true;
        state.backfilled = true;
        record('backfill_confirmed', undefined, `round ${round}`);
        await sync();
        return;
      }
      // The registry acknowledged the write but does not have the record; send it again.
      record('backfill_not_stored', undefined, `round ${round}; retry in ${delayMinutes} min`);
      await sync();
      await pause(minutes(delayMinutes));
      delayMinutes = Math.min(delayMinutes * 2, policy.registryRetryMaxMinutes);
    }
  }

  function noteRegistryStatus(status: RegistryClaimStatus): void {
    if (status !== state.registryStatus) {
      state.registryStatus = status;
      state.registryStatusSince = new Date().toISOString();
    }
    if (status === 'approved' || status === 'rejected') state.registryOutcome = status;
  }

  async function submitClaim(): Promise<void> {
    await commit('submitting');
    for (;;) {
      try {
        const answer = await callRegistry('claim_submission', () => registry.submitRegistryClaim({ claimId: input.claimId }));
        noteRegistryStatus(answer.status);
        record('claim_submitted', undefined, `registry status ${answer.status}`);
        await commit('following');
        return;
      } catch (err) {
        // The registry lost the record after our check: back-fill it and submit again.
        if (!(err instanceof ClaimInterrupted) || !state.lastError?.startsWith('REGISTRY_UNKNOWN_SERVICE_RECORD')) throw err;
        state.recordOnFile = false;
        await ensureRecordOnFile();
        await commit('submitting');
      }
    }
  }

  /** Checks the claim's status on a timer until the registry reports it closed. */
  async function followClaim(): Promise<void> {
    for (;;) {
      await pause(minutes(policy.claimStatusCheckMinutes));
      const answer = await callRegistry('claim_status_check', () => registry.fetchRegistryClaimStatus({ claimId: input.claimId }));
      if (answer === null) {
        record('claim_missing_at_registry');
        await submitClaim();
        continue;
      }
      const changed = answer.status !== state.registryStatus;
      noteRegistryStatus(answer.status);
      record('claim_status', undefined, `${answer.status}${changed ? ' (changed)' : ''}`);
      if (answer.status === 'closed') {
        await commit('closed');
        return;
      }
      const since = Date.parse(state.registryStatusSince ?? input.reportedAt);
      const overdueCount = Math.floor((Date.now() - since) / minutes(policy.claimAnswerDueMinutes));
      if (changed) state.answerEscalations = 0;
      if (overdueCount > state.answerEscalations) {
        state.answerEscalations = overdueCount;
        record('answer_overdue', undefined, `status ${answer.status} unchanged since ${state.registryStatusSince}`);
        await notifyStaff(`claim_answer_overdue_${answer.status}_${overdueCount}`);
      }
      await sync();
    }
  }

  async function handToOrganisation(): Promise<void> {
    state.route = 'organisation';
    record('handed_to_organisation');
    await commit('handed_to_organisation');
    await db.createCaseFollowUpCall({
      subjectKind: 'claim',
      subjectId: input.claimId,
      personId: input.volunteerId,
      reason: 'organisation_handoff',
      dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
    });
    if (!(await condition(() => handoffConfirmed || isTerminal(), minutes(policy.followUpCallDueMinutes)))) {
      state.handoffEscalated = true;
      record('handoff_overdue');
      await notifyStaff('claim_handoff_overdue');
      await sync();
    }
    for (;;) {
      await condition(() => handoffConfirmed || isTerminal() || state.events.length > syncedEvents);
      if (isTerminal()) return;
      if (handoffConfirmed) {
        await commit('handed_over');
        return;
      }
      await sync();
    }
  }

  /** Runs the claim from the coverage check to a final status. */
  async function handOver(): Promise<void> {
    await commit('checking_coverage');
    const coverage = await db.loadClaimCoverage({ volunteerId: input.volunteerId });
    const status = await callRegistry('volunteer_check', () => registry.checkRegistryVolunteer({ volunteerId: input.volunteerId }));
    record(
      'volunteer_checked',
      undefined,
      `registered ${status.registered}, approved ${status.approved}, insured ${status.insured}; our record: ${coverage.insurance}`,
    );
    if (status.registered && status.approved && status.insured) {
      state.route = 'registry';
      await sync();
      if (!state.recordOnFile) await ensureRecordOnFile();
      await submitClaim();
      await followClaim();
      return;
    }
    if (coverage.insurance === 'organisation') {
      await handToOrganisation();
      return;
    }
    record('not_covered', undefined, 'no insurance at Volunteer Beijing or through an organisation');
    await notifyStaff('claim_not_covered');
    await commit('not_covered');
  }

  setHandler(getClaimState, () => state);

  setHandler(followUpRecorded, (call) => {
    record(call.reached ? 'follow_up_call_reached' : 'follow_up_call_not_reached', call.actor, `${call.reason} (call ${call.callId})`);
    if (call.reached && call.reason === 'organisation_handoff') handoffConfirmed = true;
  });

  setHandler(
    closeClaim,
    async (req) => {
      state.closedBy = req.actor.id;
      record('closed_by_staff', req.actor, req.reason);
      await commit('cancelled');
      return state;
    },
    {
      validator: (req) => {
        if (isTerminal()) fail('CLAIM_STATE_CONFLICT', `the claim is already ${state.status}`);
        if (!req.reason || req.reason.trim().length === 0) fail('VALIDATION_FAILED', 'closing a claim needs a reason');
      },
    },
  );

  setHandler(
    retryClaim,
    async (req) => {
      retryRequested = true;
      record('retry_requested', req.actor);
      await sync();
      return state;
    },
    {
      validator: (_req) => {
        if (state.status !== 'needs_staff') fail('CLAIM_STATE_CONFLICT', `only a claim that needs staff can be retried, not one ${state.status}`);
      },
    },
  );

  await sync();
  while (!isTerminal()) {
    try {
      await handOver();
    } catch (err) {
      if (!(err instanceof ClaimInterrupted)) throw err;
      if (err.reason === 'stopped' || isTerminal()) break;
      await notifyStaff('claim_needs_staff');
      await commit('needs_staff');
      retryRequested = false;
      await condition(() => retryRequested || isTerminal());
    }
  }
  await condition(allHandlersFinished);
  log.info('accident claim finished', { claimId: input.claimId, status: state.status });
  return state;
}
