import { ApplicationFailure } from '@temporalio/activity';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { RegistryClient, RegistryError, RegistryRequestError } from '../registry/client';
import type { ClaimStatus, ServiceRecordInput, VolunteerStatus } from '../registry/contract';

/*
 * Activities that call Volunteer Beijing (志愿北京). Our person id is the
 * opaque volunteer key and our order id the service record id, so no
 * personal data leaves the time bank. Each call sends one request; the
 * workflow decides about retries, so every attempt shows in its history.
 */

/** Raises a registry failure as an ApplicationFailure that keeps its retryability and code. */
function asFailure(err: unknown): never {
  if (err instanceof RegistryError) {
    const code = err instanceof RegistryRequestError ? err.code : err.kind;
    throw ApplicationFailure.create({
      type: `REGISTRY_${code.toUpperCase()}`,
      message: err.message,
      nonRetryable: !err.retryable,
    });
  }
  throw err;
}

function notConfigured(): never {
  throw ApplicationFailure.create({
    type: 'REGISTRY_NOT_CONFIGURED',
    message: 'the Volunteer Beijing integration is off; set REGISTRY_URL and REGISTRY_API_KEY',
    nonRetryable: true,
  });
}

interface ServedOrderRow {
  volunteer_id: string | null;
  category: string;
  district_code: string;
  street_code: string;
  signed_in_at: Date | null;
  signed_out_at: Date | null;
  served_minutes: number | null;
}

export function createRegistryActivities(orm: MikroORM, logger: Logger, registry: RegistryClient | undefined) {
  const em = () => orm.em.fork();

  /**
   * Builds the registry record of an order's service from its sign-in and
   * sign-out. The push at settlement and the back-fill build it the same way,
   * so the registry receives identical content and treats a repeat as a no-op.
   */
  async function serviceRecordOf(orderId: string): Promise<ServiceRecordInput> {
    const rows = await em().execute<ServedOrderRow[]>(
      `select volunteer_id, category, district_code, street_code, signed_in_at, signed_out_at, served_minutes
       from service_order where id = ?`,
      [orderId],
    );
    const order = rows[0];
    if (!order || !order.volunteer_id || !order.signed_in_at || !order.signed_out_at) {
      throw ApplicationFailure.create({
        type: 'ORDER_NOT_SERVED',
        message: `order ${orderId} has no recorded service (volunteer, sign-in and sign-out)`,
        nonRetryable: true,
      });
    }
    const startedAt = new Date(order.signed_in_at);
    const endedAt = new Date(order.signed_out_at);
    // The registry refuses more minutes than the span between start and end. On
    // a scaled demo clock the span is shorter than the policy minutes served.
    const spanMinutes = Math.floor((endedAt.getTime() - startedAt.getTime()) / 60_000);
    return {
      volunteerRef: order.volunteer_id,
      serviceItem: order.category,
      place: { districtCode: order.district_code, streetCode: order.street_code },
      startedAt: startedAt.toISOString(),
      endedAt: endedAt.toISOString(),
      minutes: Math.max(0, Math.min(order.served_minutes ?? 0, spanMinutes)),
    };
  }

  return {
    /**
     * Shares a settled order's service record with the registry. Without a
     * configured registry it does nothing and returns `pushed: false`.
     */
    async pushServiceRecord(input: { orderId: string }): Promise<{ pushed: boolean; created?: boolean }> {
      if (!registry) {
        logger.warn({ orderId: input.orderId }, 'Volunteer Beijing integration is off; service record not pushed');
        return { pushed: false };
      }
      const record = await serviceRecordOf(input.orderId);
      try {
        const result = await registry.putServiceRecord(input.orderId, record);
        logger.info({ orderId: input.orderId, created: result.created }, 'service record pushed to Volunteer Beijing');
        return { pushed: true, created: result.created };
      } catch (err) {
        logger.warn({ err, orderId: input.orderId }, 'service record push failed');
        asFailure(err);
      }
    },

    async checkRegistryVolunteer(input: { volunteerId: string }): Promise<VolunteerStatus> {
      if (!registry) notConfigured();
      try {
        return await registry.getVolunteerStatus(input.volunteerId);
      } catch (err) {
        asFailure(err);
      }
    },

    async findRegistryServiceRecord(input: { orderId: string }): Promise<boolean> {
      if (!registry) notConfigured();
      try {
        return (await registry.getServiceRecord(input.orderId)) !== undefined;
      } catch (err) {
        asFailure(err);
      }
    },

    /** Back-fills (补录) the order's service record; the workflow reads it back to confirm it was stored. */
    async backfillServiceRecord(input: { orderId: string }): Promise<{ created: boolean }> {
      if (!registry) notConfigured();
      const record = await serviceRecordOf(input.orderId);
      try {
        const result = await registry.backfillServiceRecord(input.orderId, record);
        logger.info({ orderId: input.orderId, created: result.created }, 'service record back-filled');
        return { created: result.created };
      } catch (err) {
        asFailure(err);
      }
    },

    /** Submits the claim under our claim id, so a repeat is a no-op at the registry. */
    async submitRegistryClaim(input: { claimId: string }): Promise<ClaimStatus> {
      if (!registry) notConfigured();
      const rows = await em().execute<Array<{ volunteer_id: string; order_id: string; injured_at: Date; description: string }>>(
        `select volunteer_id, order_id, injured_at, description from accident_claim where id = ?`,
        [input.claimId],
      );
      if (rows.length === 0) {
        throw ApplicationFailure.create({ type: 'CLAIM_NOT_FOUND', message: `claim ${input.claimId} does not exist`, nonRetryable: true });
      }
      const claim = rows[0];
      try {
        const result = await registry.putClaim(input.claimId, {
          volunteerRef: claim.volunteer_id,
          recordId: claim.order_id,
          injuredAt: new Date(claim.injured_at).toISOString(),
          description: claim.description,
        });
        logger.info({ claimId: input.claimId, created: result.created, status: result.claim.status }, 'claim submitted');
        return result.claim;
      } catch (err) {
        asFailure(err);
      }
    },

    /** Returns the claim's status at the registry, or null when the registry has no such claim. */
    async fetchRegistryClaimStatus(input: { claimId: string }): Promise<ClaimStatus | null> {
      if (!registry) notConfigured();
      try {
        return (await registry.getClaimStatus(input.claimId)) ?? null;
      } catch (err) {
        asFailure(err);
      }
    },
  };
}

export type RegistryActivities = ReturnType<typeof createRegistryActivities>;
