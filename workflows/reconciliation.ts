import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { ReconciliationActivities, ReconciliationSummary } from '../activities/reconciliation';

const acts = proxyActivities<ReconciliationActivities>({
  // A full check reads every account and entry; on a large ledger it takes minutes.
  startToCloseTimeout: '30 minutes',
  retry: { initialInterval: '10 seconds', maximumInterval: '5 minutes', maximumAttempts: 5 },
});

/**
 * One reconciliation run of the coin ledger, started nightly by a Temporal
 * Schedule or on demand by an operator. The workflow id is the run id.
 */
export async function reconciliationWorkflow(trigger: 'schedule' | 'operator' = 'schedule'): Promise<ReconciliationSummary> {
  return acts.reconcileLedger({ runId: workflowInfo().workflowId, trigger });
}
