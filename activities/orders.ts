import { randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { LedgerError, postReservationIn, reserveIn, voidReservationIn } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { OrderState, reservationId, settlementTransferId } from '../domain/order';
import { ageOn } from '../domain/resident-id';

export interface SyncOrderInput {
  orderId: string;
  state: OrderState;
}

export interface FollowUpCallInput {
  orderId: string;
  reason: string;
  districtCode: string;
  dueAt: string;
}

export interface NotifyInput {
  kind: string;
  orderId: string;
  audience: string;
  districtCode: string;
}

/** Raises a ledger refusal as a non-retryable failure that keeps the ledger's code. */
function asFailure(err: unknown): never {
  if (err instanceof LedgerError) {
    throw ApplicationFailure.create({ type: err.code, message: err.message, nonRetryable: true, details: [err.details] });
  }
  throw err;
}

/**
 * Activities of the order workflow. Every one is idempotent: a retry, or a
 * second run after the worker died past the commit, has no further effect.
 */
export function createOrderActivities(orm: MikroORM, logger: Logger) {
  const em = () => orm.em.fork();

  return {
    /** Copies the workflow's state into the read model; older snapshots never overwrite newer ones. */
    async syncOrder({ orderId, state }: SyncOrderInput): Promise<void> {
      await em().execute(
        `update service_order set status = ?, cancel_reason = ?, volunteer_id = ?, reviewer_id = ?, review_note = ?,
           signed_in_at = ?, signed_out_at = ?, served_minutes = ?, settled_minutes = ?, rating = ?,
           rating_comment = ?, disputed = ?, flags = string_to_array(?, ','), state_version = ?, updated_at = now()
         where id = ? and state_version < ?`,
        [
          state.status,
          state.cancelReason ?? null,
          state.volunteerId ?? null,
          state.reviewerId ?? null,
          state.reviewNote ?? null,
          state.signedInAt ?? null,
          state.signedOutAt ?? null,
          state.servedMinutes ?? null,
          state.settledMinutes ?? null,
          state.rating ?? null,
          state.ratingComment ?? null,
          state.disputed,
          state.flags.join(','),
          state.version,
          orderId,
          state.version,
        ],
      );
    },

    async reserveOrderCoins(input: { orderId: string; elderId: string; minutes: number }): Promise<void> {
      try {
        const result = await em().transactional((tx) =>
          reserveIn(tx, {
            id: reservationId(input.orderId),
            kind: 'order',
            accountId: personalAccountId(input.elderId),
            amount: input.minutes,
            orderId: input.orderId,
          }),
        );
        logger.info({ orderId: input.orderId, minutes: input.minutes, replayed: result.replayed }, 'order coins reserved');
      } catch (err) {
        asFailure(err);
      }
    },

    async releaseOrderCoins(input: { orderId: string }): Promise<void> {
      try {
        await em().transactional((tx) => voidReservationIn(tx, reservationId(input.orderId)));
        logger.info({ orderId: input.orderId }, 'order reservation released');
      } catch (err) {
        asFailure(err);
      }
    },

    /**
     * Pays the served minutes from the elder's reservation to the volunteer,
     * releases the rest and adds the served time to the volunteer's hours, all
     * in one transaction, so a retry after a crash finds the work done.
     */
    async settleOrder(input: { orderId: string; elderId: string; volunteerId: string; minutes: number }) {
      try {
        const result = await em().transactional(async (tx) => {
          const posted = await postReservationIn(tx, {
            reservationId: reservationId(input.orderId),
            amount: input.minutes,
            creditAccountId: personalAccountId(input.volunteerId),
            transferId: settlementTransferId(input.orderId),
            kind: 'order_settlement',
            orderId: input.orderId,
          });
          if (!posted.replayed && input.minutes > 0) {
            // Served hours count the time served, even when the elder could not cover all of it.
            await tx.execute(`update person set served_minutes = served_minutes + ? where id = ?`, [
              input.minutes,
              input.volunteerId,
            ]);
          }
          return posted;
        });
        logger.info(
          { orderId: input.orderId, minutes: input.minutes, postedMinutes: result.postedAmount, replayed: result.replayed },
          'order settled',
        );
        return { replayed: result.replayed, postedMinutes: result.postedAmount };
      } catch (err) {
        asFailure(err);
      }
    },

    /**
     * Checks that the volunteer may accept the order. A volunteer under
     * `adultAge` is a student who serves only with their guardian: the
     * acceptance must set withGuardian, and the guardian must be an active
     * volunteer. Returns the guardian's id for a student, whose time
     * claimVolunteerSlot then books too.
     */
    async checkVolunteerEligibility(input: {
      orderId: string;
      elderId: string;
      volunteerId: string;
      withGuardian?: boolean;
      adultAge?: number;
    }): Promise<{ guardianId?: string }> {
      const rows = await em().execute<
        Array<{ is_volunteer: boolean; volunteer_status: string; insurance: string; birth_date: string; guardian_id: string | null }>
      >(
        `select is_volunteer, volunteer_status, insurance, to_char(birth_date, 'YYYY-MM-DD') as birth_date, guardian_id
         from person where id = ?`,
        [input.volunteerId],
      );
      const refuse = (type: string, message: string): never => {
        throw ApplicationFailure.create({ type, message, nonRetryable: true });
      };
      if (rows.length === 0) refuse('PERSON_NOT_FOUND', `volunteer ${input.volunteerId} does not exist`);
      const v = rows[0];
      if (!v.is_volunteer) refuse('NOT_A_VOLUNTEER', `person ${input.volunteerId} is not a registered volunteer`);
      if (v.volunteer_status !== 'active') refuse('VOLUNTEER_SUSPENDED', `volunteer ${input.volunteerId} is ${v.volunteer_status}`);
      if (v.insurance === 'none') {
        refuse('INSURANCE_NOT_CONFIRMED', `volunteer ${input.volunteerId} has no confirmed accident insurance`);
      }
      if (input.volunteerId === input.elderId) refuse('CANNOT_SERVE_SELF', 'a volunteer cannot accept their own order');
      // Executions started before the student rule pass no adultAge; they keep the old checks.
      if (input.adultAge === undefined || ageOn(v.birth_date, new Date()) >= input.adultAge) return {};

      if (!v.guardian_id || input.withGuardian !== true) {
        refuse('GUARDIAN_REQUIRED', `volunteer ${input.volunteerId} is under ${input.adultAge} and must accept with their guardian`);
      }
      const [guardian] = await em().execute<Array<{ is_volunteer: boolean; volunteer_status: string }>>(
        `select is_volunteer, volunteer_status from person where id = ?`,
        [v.guardian_id],
      );
      if (!guardian || !guardian.is_volunteer || guardian.volunteer_status !== 'active') {
        refuse('GUARDIAN_INVALID', `the guardian of volunteer ${input.volunteerId} is not an active volunteer`);
      }
      if (v.guardian_id === input.elderId) refuse('CANNOT_SERVE_SELF', 'a guardian cannot accompany service on their own order');
      return { guardianId: v.guardian_id! };
    },

    /**
     * Claims the volunteer's time slot and, for a student, the accompanying
     * guardian's, in one transaction. The database rejects a slot that
     * overlaps another of the same person, whether they serve or accompany.
     */
    async claimVolunteerSlot(input: { orderId: string; volunteerId: string; startMs: number; endMs: number; guardianId?: string }) {
      const slot = [new Date(input.startMs), new Date(input.endMs)];
      let claiming = 'volunteer' as 'volunteer' | 'guardian';
      try {
        await em().transactional(async (tx) => {
          const inserted = await tx.execute<Array<{ volunteer_id: string }>>(
            `insert into volunteer_slot (order_id, volunteer_id, slot, role) values (?, ?, tstzrange(?, ?, '[)'), 'volunteer')
             on conflict (order_id) where role = 'volunteer' do update set order_id = excluded.order_id
               where volunteer_slot.volunteer_id = excluded.volunteer_id
             returning volunteer_id`,
            [input.orderId, input.volunteerId, ...slot],
          );
          if (inserted.length === 0) {
            throw ApplicationFailure.create({
              type: 'ORDER_ALREADY_MATCHED',
              message: `order ${input.orderId} is held by another volunteer`,
              nonRetryable: true,
            });
          }
          if (!input.guardianId) return;
          claiming = 'guardian';
          await tx.execute(
            `insert into volunteer_slot (order_id, volunteer_id, slot, role) values (?, ?, tstzrange(?, ?, '[)'), 'guardian')
             on conflict (order_id, volunteer_id) do nothing`,
            [input.orderId, input.guardianId, ...slot],
          );
        });
      } catch (err) {
        if ((err as { code?: string }).code === '23P01') {
          throw ApplicationFailure.create(
            claiming === 'guardian'
              ? {
                  type: 'GUARDIAN_BUSY',
                  message: `the guardian of volunteer ${input.volunteerId} already accepted an order that overlaps this one`,
                  nonRetryable: true,
                }
              : {
                  type: 'VOLUNTEER_OVERLAP',
                  message: `volunteer ${input.volunteerId} already accepted an order that overlaps this one`,
                  nonRetryable: true,
                },
          );
        }
        throw err;
      }
    },

    async releaseVolunteerSlot(input: { orderId: string }): Promise<void> {
      await em().execute(`delete from volunteer_slot where order_id = ?`, [input.orderId]);
    },

    async notify(input: NotifyInput): Promise<void> {
      await em().execute(
        `insert into notification (kind, subject_id, audience, district_code) values (?, ?, ?, ?)
         on conflict (kind, subject_id, audience) do nothing`,
        [input.kind, input.orderId, input.audience, input.districtCode],
      );
      logger.info({ orderId: input.orderId, kind: input.kind, audience: input.audience }, 'notification queued');
    },

    /** Creates a follow-up call (回访) task for the street's institution, once per order and reason. */
    async createFollowUpCall(input: FollowUpCallInput): Promise<void> {
      await em().execute(
        `insert into follow_up_call (id, subject_kind, subject_id, reason, district_code, institution_id, due_at)
         select ?, 'order', o.id, ?, o.district_code,
                (select i.id from institution i where i.district_code = o.district_code
                 order by (i.street_code = o.street_code) desc, i.confirmed_at limit 1),
                ?
         from service_order o where o.id = ?
         on conflict (subject_kind, subject_id, reason) do nothing`,
        [randomUUID(), input.reason, input.dueAt, input.orderId],
      );
      logger.info({ orderId: input.orderId, reason: input.reason }, 'follow-up call created');
    },
  };
}

export type OrderActivities = ReturnType<typeof createOrderActivities>;
