import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { insertCaseEvents } from '../db/cases';
import type { AccidentClaimState, ClaimCoverage } from '../domain/accident-claim';

/** Activities of the accident claim workflow that touch only our database. */
export function createClaimActivities(orm: MikroORM, logger: Logger) {
  const em = () => orm.em.fork();

  return {
    /** Copies the claim state and its new timeline events into the read model. */
    async syncClaim(input: { state: Omit<AccidentClaimState, 'events'>; events: AccidentClaimState['events'] }) {
      const { state } = input;
      await em().transactional(async (tx) => {
        await tx.execute(
          `update accident_claim set status = ?, route = ?, registry_status = ?, state_version = ?, updated_at = now()
           where id = ? and state_version < ?`,
          [state.status, state.route ?? null, state.registryStatus ?? null, state.version, state.claimId, state.version],
        );
        await insertCaseEvents(tx, 'accident_claim', state.claimId, input.events);
      });
    },

    async loadClaimCoverage(input: { volunteerId: string }): Promise<ClaimCoverage> {
      const rows = await em().execute<Array<{ insurance: ClaimCoverage['insurance'] }>>(
        `select insurance from person where id = ?`,
        [input.volunteerId],
      );
      const insurance = rows[0]?.insurance ?? 'none';
      logger.debug({ volunteerId: input.volunteerId, insurance }, 'claim coverage loaded');
      return { insurance };
    },
  };
}

export type ClaimActivities = ReturnType<typeof createClaimActivities>;
