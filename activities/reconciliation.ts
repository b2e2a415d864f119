import { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from 'pino';
import { reconcile } from '../db/reconciliation';

export interface ReconciliationRunInput {
  runId: string;
  trigger: 'schedule' | 'operator';
}

export interface ReconciliationSummary {
  runId: string;
  ok: boolean;
  problemCount: number;
}

/** Activities of the nightly ledger reconciliation. */
export function createReconciliationActivities(orm: MikroORM, logger: Logger) {
  return {
    /** Checks the whole ledger and stores the outcome; running it again for one run id replaces that run's outcome. */
    async reconcileLedger(input: ReconciliationRunInput): Promise<ReconciliationSummary> {
      const em = orm.em.fork();
      await em.execute(
        `insert into reconciliation_run (id, trigger) values (?, ?) on conflict (id) do update set started_at = now()`,
        [input.runId, input.trigger],
      );
      const result = await reconcile(em);
      await em.execute(
        `update reconciliation_run set finished_at = now(), ok = ?, accounts_checked = ?, problems = ?::jsonb where id = ?`,
        [result.ok, result.accountsChecked, JSON.stringify(result.problems), input.runId],
      );
      if (result.ok) {
        logger.info({ runId: input.runId, accounts: result.accountsChecked }, 'ledger reconciliation found no discrepancy');
      } else {
        logger.error({ runId: input.runId, problems: result.problems.slice(0, 20), problemCount: result.problems.length }, 'ledger reconciliation found discrepancies');
      }
      return { runId: input.runId, ok: result.ok, problemCount: result.problems.length };
    },
  };
}

export type ReconciliationActivities = ReturnType<typeof createReconciliationActivities>;
