import { ApplicationFailure } from '@temporalio/activity';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { allocateBed, insertCaseEvents, insertFollowUpCall, loadApplicantFacts, releaseBedOf, waitingCaseIds } from '../db/cases';
import { LedgerError, postReservationIn, reserve, voidReservationIn } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { careHomeReservationId, careHomeSpendTransferId } from '../domain/cases';
import type { ApplicantFacts, CareHomeCaseState, PlacementResult } from '../domain/care-home';

/** The account that receives the coins of every admission. */
export const CARE_HOME_ACCOUNT_ID = 'care_home:city';

function asFailure(err: unknown): never {
  if (err instanceof LedgerError) {
    throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [err.details] });
  }
  throw err;
}

/**
 * Activities of the care-home admission workflow. Each is idempotent: the
 * ledger keys reservations and transfers by the case id, the timeline by
 * event number, bed placement by the case, and notifications and follow-up
 * calls by kind or reason.
 */
export function createCareHomeActivities(orm: MikroORM, logger: Logger) {
  const em = () => orm.em.fork();

  return {
    /** Copies the case state and its new timeline events into the read model. */
    async syncCareHomeCase(input: { state: Omit<CareHomeCaseState, 'events'>; events: CareHomeCaseState['events'] }) {
      const { state } = input;
      await em().transactional(async (tx) => {
        await tx.execute(
          `update care_home_case set status = ?, problems = string_to_array(?, ','), ability_level = ?, decision_note = ?,
             care_home_id = ?, bed_id = ?, state_version = ?, updated_at = now()
           where id = ? and state_version < ?`,
          [
            state.status,
            state.problems.join(','),
            state.abilityLevel ?? null,
            state.decisionNote ?? null,
            state.careHomeId ?? null,
            state.bedId ?? null,
            state.version,
            state.caseId,
            state.version,
          ],
        );
        await insertCaseEvents(tx, 'care_home', state.caseId, input.events);
      });
    },

    async loadApplicantFacts(input: { applicantId: string }): Promise<ApplicantFacts> {
      return loadApplicantFacts(em(), input.applicantId, new Date());
    },

    async reserveCareHomeCoins(input: { caseId: string; applicantId: string; minutes: number }): Promise<void> {
      try {
        const result = await reserve(em(), {
          id: careHomeReservationId(input.caseId),
          kind: 'care_home',
          accountId: personalAccountId(input.applicantId),
          amount: input.minutes,
        });
        logger.info({ caseId: input.caseId, minutes: input.minutes, replayed: result.replayed }, 'care-home coins reserved');
      } catch (err) {
        asFailure(err);
      }
    },

    async releaseCareHomeCoins(input: { caseId: string }): Promise<void> {
      try {
        await em().transactional((tx) => voidReservationIn(tx, careHomeReservationId(input.caseId)));
        logger.info({ caseId: input.caseId }, 'care-home reservation released');
      } catch (err) {
        asFailure(err);
      }
    },

    /** Spends the reserved coins at admission: the whole reservation moves to the care-home account. */
    async spendCareHomeCoins(input: { caseId: string; minutes: number }): Promise<{ postedMinutes: number }> {
      try {
        const posted = await em().transactional((tx) =>
          postReservationIn(tx, {
            reservationId: careHomeReservationId(input.caseId),
            amount: input.minutes,
            creditAccountId: CARE_HOME_ACCOUNT_ID,
            transferId: careHomeSpendTransferId(input.caseId),
            kind: 'care_home_spend',
          }),
        );
        logger.info({ caseId: input.caseId, minutes: posted.postedAmount, replayed: posted.replayed }, 'care-home coins spent');
        return { postedMinutes: posted.postedAmount };
      } catch (err) {
        asFailure(err);
      }
    },

    async allocateBed(input: { caseId: string; districtCode: string; careHomeId?: string }): Promise<PlacementResult> {
      const result = await allocateBed(em(), input);
      logger.info({ caseId: input.caseId, placed: result.placed, reason: result.reason }, 'care-home placement attempted');
      return result;
    },

    /** Frees the case's bed and returns the district's waiting cases, so the workflow can wake them. */
    async releaseBed(input: { caseId: string; districtCode: string }): Promise<{ freed: boolean; waitingCaseIds: string[] }> {
      const freed = await releaseBedOf(em(), input.caseId, input.districtCode);
      if (freed) logger.info({ caseId: input.caseId }, 'care-home bed released');
      return { freed, waitingCaseIds: freed ? await waitingCaseIds(em(), input.districtCode) : [] };
    },

    async listWaitingCases(input: { districtCode: string }): Promise<string[]> {
      return waitingCaseIds(em(), input.districtCode);
    },

    /** Queues a reminder or escalation for an office, once per kind, case and audience. */
    async notifyCase(input: { kind: string; subjectId: string; audience: string; districtCode: string }): Promise<void> {
      await em().execute(
        `insert into notification (kind, subject_id, audience, district_code) values (?, ?, ?, ?)
         on conflict (kind, subject_id, audience) do nothing`,
        [input.kind, input.subjectId, input.audience, input.districtCode],
      );
      logger.info({ subjectId: input.subjectId, kind: input.kind, audience: input.audience }, 'notification queued');
    },

    async createCaseFollowUpCall(input: {
      subjectKind: 'case' | 'claim';
      subjectId: string;
      personId: string;
      reason: string;
      dueAt: string;
    }): Promise<void> {
      await insertFollowUpCall(em(), input);
      logger.info({ subjectId: input.subjectId, reason: input.reason }, 'follow-up call created');
    },
  };
}

export type CareHomeActivities = ReturnType<typeof createCareHomeActivities>;
