import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
} from '@temporalio/workflow';
import type { CareHomeActivities } from '../activities/care-home';
import {
  AssessmentInput,
  CARE_HOME_TERMINAL_STATUSES,
  CareHomeCaseState,
  CareHomeCaseStatus,
  CareHomeWorkflowInput,
  DecisionInput,
  eligibilityProblems,
  PlacementInput,
  PlacementResult,
  qualifiesAsFrail,
  RejectionInput,
  WithdrawalInput,
} from '../domain/care-home';
import { CaseEvent, careHomeWorkflowId, FollowUpOutcome } from '../domain/cases';
import type { Actor } from '../domain/order';
import { fail } from './failures';

export const getCareHomeCase = defineQuery<CareHomeCaseState>('getCareHomeCase');
export const recordAssessment = defineUpdate<CareHomeCaseState, [AssessmentInput]>('recordAssessment');
export const approveCase = defineUpdate<CareHomeCaseState, [DecisionInput]>('approveCase');
export const rejectCase = defineUpdate<CareHomeCaseState, [RejectionInput]>('rejectCase');
export const placeCase = defineUpdate<CareHomeCaseState, [PlacementInput]>('placeCase');
export const admitCase = defineUpdate<CareHomeCaseState, [DecisionInput]>('admitCase');
export const withdrawCase = defineUpdate<CareHomeCaseState, [WithdrawalInput]>('withdrawCase');
/** Sent when a bed of the district may have become free: staff added or vacated one, or a case gave one up. */
export const bedsChanged = defineSignal('bedsChanged');
/** Sent when an institution records a follow-up call of this case or claim. */
export const followUpRecorded = defineSignal<[FollowUpOutcome]>('followUpRecorded');

const acts = proxyActivities<CareHomeActivities>({
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});


/** Steps with a deadline, the policy minutes each may take, and the name used in reminders. */
type TimedStatus = 'awaiting_assessment' | 'awaiting_approval' | 'awaiting_admission';
const STEP_NAMES: Record<TimedStatus, string> = {
  awaiting_assessment: 'assessment',
  awaiting_approval: 'approval',
  awaiting_admission: 'admission',
};

/**
 * One care-home admission application (公办养老机构入住) from the eligibility
 * check to admission. The applicant's coins are reserved once eligible and
 * spent at admission; rejection and withdrawal release them. District steps
 * have deadlines with a reminder to the district office and then an
 * escalation to the city; the wait for a bed has no deadline but a monthly
 * reminder, and beds go to waiting cases in application order.
 */
export async function careHomeWorkflow(input: CareHomeWorkflowInput): Promise<CareHomeCaseState> {
  const { policy, minuteMs } = input.settings;
  const minutes = (n: number) => n * minuteMs;

  const state: CareHomeCaseState = {
    caseId: input.caseId,
    status: 'checking_eligibility',
    problems: [],
    reserved: false,
    stepStartedAt: input.appliedAt,
    deadline: { reminded: false, escalated: false, placementReminders: 0 },
    version: 1,
    events: [{ seq: 0, at: input.appliedAt, event: 'applied' }],
  };
  let syncedEvents = 0;
  let bedSignals = 0;

  // Handlers and the timer actions of the main loop run one at a time,
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

  const isTerminal = () => CARE_HOME_TERMINAL_STATUSES.includes(state.status);
  const unsynced = () => state.events.length > syncedEvents;

  function record(event: string, actor?: Actor, detail?: string): void {
    const entry: CaseEvent = { seq: state.events.length, at: new Date().toISOString(), event };
    if (actor) entry.actorId = actor.id;
    if (actor?.onBehalfOf) entry.onBehalfOf = actor.onBehalfOf;
    if (detail) entry.detail = detail;
    state.events.push(entry);
  }

  /** Moves to `status` (restarting the step's deadline when it changes) and syncs the read model. */
  async function commit(status: CareHomeCaseStatus): Promise<void> {
    if (state.status !== status) {
      state.status = status;
      state.stepStartedAt = new Date().toISOString();
      state.deadline = { reminded: false, escalated: false, placementReminders: 0 };
    }
    state.version += 1;
    await sync();
  }

  /** Writes the state and the timeline events not yet stored to the read model. */
  async function sync(): Promise<void> {
    const { events, ...snapshot } = state;
    const fresh = events.slice(syncedEvents);
    await acts.syncCareHomeCase({ state: snapshot, events: fresh });
    syncedEvents += fresh.length;
  }

  function requireStatus(allowed: CareHomeCaseStatus[], step: string): void {
    if (!allowed.includes(state.status)) {
      fail('CASE_STATE_CONFLICT', `cannot ${step} an application in status ${state.status}; allowed in ${allowed.join(', ')}`);
    }
  }

  async function releaseCoins(): Promise<void> {
    if (!state.reserved) return;
    await acts.releaseCareHomeCoins({ caseId: input.caseId });
    state.reserved = false;
  }

  async function wakeWaitingCases(caseIds: string[]): Promise<void> {
    for (const id of caseIds) {
      if (id === input.caseId) continue;
      try {
        await getExternalWorkflowHandle(careHomeWorkflowId(id)).signal(bedsChanged);
      } catch (err) {
        // A case that ended meanwhile needs no bed.
        log.warn('could not wake a waiting case', { caseId: input.caseId, waitingCaseId: id, error: String(err) });
      }
    }
  }

  async function releaseBed(): Promise<void> {
    if (!state.bedId) return;
    const released = await acts.releaseBed({ caseId: input.caseId, districtCode: input.districtCode });
    state.bedId = undefined;
    state.careHomeId = undefined;
    await wakeWaitingCases(released.waitingCaseIds);
  }

  async function finishPlacement(result: PlacementResult, actor?: Actor): Promise<void> {
    state.careHomeId = result.careHomeId;
    state.bedId = result.bedId;
    state.casesAhead = 0;
    record('placed', actor, `care home ${result.careHomeId}, bed ${result.bedId}`);
    await commit('awaiting_admission');
    // The case now waits on the applicant to move in, so the institution calls them.
    await acts.createCaseFollowUpCall({
      subjectKind: 'case',
      subjectId: input.caseId,
      personId: input.applicantId,
      reason: 'bed_offered',
      dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
    });
    if (result.freeBeds > 0) await wakeWaitingCases(await acts.listWaitingCases({ districtCode: input.districtCode }));
  }

  /** Makes one placement attempt; returns true when the case left the queue. */
  async function attemptPlacement(): Promise<boolean> {
    return exclusive(async () => {
      if (state.status !== 'awaiting_placement') return true;
      const result = await acts.allocateBed({ caseId: input.caseId, districtCode: input.districtCode });
      if (result.placed) {
        await finishPlacement(result);
        return true;
      }
      if (state.casesAhead !== result.casesAhead) {
        state.casesAhead = result.casesAhead;
        record('queued', undefined, `${result.casesAhead} earlier applications waiting, ${result.freeBeds} free beds`);
        await commit(state.status);
      }
      return false;
    });
  }

  setHandler(getCareHomeCase, () => state);

  setHandler(bedsChanged, () => {
    bedSignals += 1;
  });

  setHandler(followUpRecorded, (call) => {
    record(call.reached ? 'follow_up_call_reached' : 'follow_up_call_not_reached', call.actor, `${call.reason} (call ${call.callId})`);
  });

  setHandler(
    recordAssessment,
    (req) =>
      exclusive(async () => {
        requireStatus(['awaiting_assessment'], 'assess');
        state.abilityLevel = req.abilityLevel;
        state.assessedBy = req.actor.id;
        record('assessed', req.actor, `ability level ${req.abilityLevel}${req.note ? `: ${req.note}` : ''}`);
        await commit('awaiting_approval');
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(['awaiting_assessment'], 'assess');
        if (!Number.isInteger(req.abilityLevel) || req.abilityLevel < 0 || req.abilityLevel > 4) {
          fail('VALIDATION_FAILED', 'abilityLevel must be a whole number from 0 to 4');
        }
      },
    },
  );

  const checkFrailty = () => {
    const level = state.abilityLevel ?? 0;
    if (!qualifiesAsFrail(level, state.ageYears ?? 0, policy)) {
      fail(
        'CASE_NOT_ELIGIBLE',
        `ability level ${level} is below ${policy.careHomeMinAbilityLevel} and the applicant is under ${policy.veryOldAge}; reject the application instead`,
      );
    }
  };

  setHandler(
    approveCase,
    (req) =>
      exclusive(async () => {
        requireStatus(['awaiting_approval'], 'approve');
        checkFrailty();
        state.decidedBy = req.actor.id;
        state.decisionNote = req.note;
        record('approved', req.actor, req.note);
        await commit('awaiting_placement');
        return state;
      }),
    {
      validator: (_req) => {
        requireStatus(['awaiting_approval'], 'approve');
        checkFrailty();
      },
    },
  );

  const rejectable: CareHomeCaseStatus[] = ['awaiting_assessment', 'awaiting_approval', 'awaiting_placement'];
  setHandler(
    rejectCase,
    (req) =>
      exclusive(async () => {
        requireStatus(rejectable, 'reject');
        await releaseCoins();
        state.decidedBy = req.actor.id;
        state.decisionNote = req.reason;
        record('rejected', req.actor, req.reason);
        await commit('rejected');
        return state;
      }),
    {
      validator: (req) => {
        requireStatus(rejectable, 'reject');
        if (!req.reason || req.reason.trim().length === 0) fail('VALIDATION_FAILED', 'a rejection needs a reason');
      },
    },
  );

  setHandler(
    placeCase,
    (req) =>
      exclusive(async () => {
        requireStatus(['awaiting_placement'], 'place');
        const result = await acts.allocateBed({
          caseId: input.caseId,
          districtCode: input.districtCode,
          careHomeId: req.careHomeId,
        });
        if (!result.placed) {
          state.casesAhead = result.casesAhead;
          if (result.reason === 'not_first_in_queue') {
            fail('CASE_NOT_FIRST_IN_QUEUE', `${result.casesAhead} earlier applications of the district are waiting for a bed`);
          }
          fail('CARE_HOME_NO_FREE_BED', req.careHomeId ? `care home ${req.careHomeId} has no free bed` : 'the district has no free bed');
        }
        await finishPlacement(result, req.actor);
        return state;
      }),
    { validator: (_req) => requireStatus(['awaiting_placement'], 'place') },
  );

  setHandler(
    admitCase,
    (req) =>
      exclusive(async () => {
        requireStatus(['awaiting_admission'], 'admit');
        try {
          const spent = await acts.spendCareHomeCoins({ caseId: input.caseId, minutes: policy.careHomeCoinMinutes });
          state.spentMinutes = spent.postedMinutes;
        } catch (err) {
          if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure) {
            fail('CASE_STATE_CONFLICT', err.cause.message);
          }
          throw err;
        }
        state.reserved = false;
        record('admitted', req.actor, req.note);
        await commit('admitted');
        return state;
      }),
    { validator: (_req) => requireStatus(['awaiting_admission'], 'admit') },
  );

  const withdrawable: CareHomeCaseStatus[] = [
    'checking_eligibility',
    'awaiting_assessment',
    'awaiting_approval',
    'awaiting_placement',
    'awaiting_admission',
  ];
  setHandler(
    withdrawCase,
    (req) =>
      exclusive(async () => {
        requireStatus(withdrawable, 'withdraw');
        await releaseCoins();
        await releaseBed();
        record('withdrawn', req.actor, req.reason);
        await commit('withdrawn');
        return state;
      }),
    { validator: (_req) => requireStatus(withdrawable, 'withdraw') },
  );

  /** Waits until `done()` is true or the deadline passes; returns true when `done()` became true first. */
  async function waitUntil(deadlineMs: number, done: () => boolean): Promise<boolean> {
    if (deadlineMs === Infinity) {
      await condition(done);
      return true;
    }
    const remaining = deadlineMs - Date.now();
    if (remaining <= 0) return done();
    return condition(done, remaining);
  }

  function stepDueMinutes(status: TimedStatus): number {
    if (status === 'awaiting_assessment') return policy.caseAssessmentDueMinutes;
    if (status === 'awaiting_approval') return policy.caseApprovalDueMinutes;
    return policy.caseAdmissionDueMinutes;
  }

  /** Waits in a step with a deadline: a reminder when it is overdue, then an escalation to the city. */
  async function timedStep(status: TimedStatus): Promise<void> {
    const step = STEP_NAMES[status];
    const dueAt = Date.parse(state.stepStartedAt) + minutes(stepDueMinutes(status));
    const escalateAt = dueAt + minutes(policy.caseEscalationAfterMinutes);
    let next = Infinity;
    if (!state.deadline.reminded) next = dueAt;
    else if (!state.deadline.escalated) next = escalateAt;
    if (await waitUntil(next, () => state.status !== status || unsynced())) {
      // A follow-up call outcome arrived; store it in the timeline.
      await exclusive(async () => {
        if (state.status === status && unsynced()) await commit(status);
      });
      return;
    }
    await exclusive(async () => {
      if (state.status !== status) return;
      if (!state.deadline.reminded) {
        state.deadline.reminded = true;
        record(`${step}_overdue`);
        await acts.notifyCase({
          kind: `care_home_${step}_overdue`,
          subjectId: input.caseId,
          audience: 'district_office',
          districtCode: input.districtCode,
        });
        if (status === 'awaiting_admission') {
          await acts.createCaseFollowUpCall({
            subjectKind: 'case',
            subjectId: input.caseId,
            personId: input.applicantId,
            reason: 'admission_overdue',
            dueAt: new Date(Date.now() + minutes(policy.followUpCallDueMinutes)).toISOString(),
          });
        }
      } else {
        state.deadline.escalated = true;
        record(`${step}_escalated`);
        await acts.notifyCase({
          kind: `care_home_${step}_escalated`,
          subjectId: input.caseId,
          audience: 'city_office',
          districtCode: input.districtCode,
        });
      }
      await commit(status);
    });
  }

  /** Waits for a bed: tries to place the case, then sleeps until beds change or the monthly reminder is due. */
  async function placementStep(): Promise<void> {
    const seenSignals = bedSignals;
    if (await attemptPlacement()) return;
    const reminderAt =
      Date.parse(state.stepStartedAt) + minutes(policy.casePlacementReminderMinutes) * (state.deadline.placementReminders + 1);
    const woke = await waitUntil(
      reminderAt,
      () => state.status !== 'awaiting_placement' || bedSignals !== seenSignals || unsynced(),
    );
    await exclusive(async () => {
      if (state.status !== 'awaiting_placement') return;
      if (!woke) {
        state.deadline.placementReminders += 1;
        record('placement_reminded', undefined, `waiting for a bed, reminder ${state.deadline.placementReminders}`);
        await acts.notifyCase({
          kind: `care_home_placement_waiting_${state.deadline.placementReminders}`,
          subjectId: input.caseId,
          audience: 'district_office',
          districtCode: input.districtCode,
        });
      }
      if (unsynced()) await commit(state.status);
    });
  }

  await sync();

  // Eligibility: own served time, balance, age and the dishonesty list, then the coins are reserved.
  await exclusive(async () => {
    if (state.status !== 'checking_eligibility') return;
    const facts = await acts.loadApplicantFacts({ applicantId: input.applicantId });
    state.ageYears = facts.ageYears;
    const problems = eligibilityProblems(facts, policy);
    if (problems.length === 0) {
      try {
        await acts.reserveCareHomeCoins({ caseId: input.caseId, applicantId: input.applicantId, minutes: policy.careHomeCoinMinutes });
        state.reserved = true;
      } catch (err) {
        const insufficient =
          err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === 'INSUFFICIENT_BALANCE';
        if (!insufficient) throw err;
        problems.push('balance_short');
      }
    }
    state.problems = problems;
    if (problems.length > 0) {
      record('ineligible', undefined, problems.join(', '));
      await commit('ineligible');
    } else {
      record('eligible', undefined, `${policy.careHomeCoinMinutes} minutes reserved`);
      await commit('awaiting_assessment');
    }
  });

  while (!isTerminal()) {
    const status = state.status;
    if (status === 'awaiting_placement') {
      await placementStep();
    } else if (status === 'awaiting_assessment' || status === 'awaiting_approval' || status === 'awaiting_admission') {
      await timedStep(status);
    } else {
      // checking_eligibility only while a withdrawal holds the lock; wait for it to finish.
      await condition(() => state.status !== status);
    }
  }
  await condition(allHandlersFinished);
  log.info('care-home application finished', { caseId: input.caseId, status: state.status });
  return state;
}
