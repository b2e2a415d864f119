import { proxyActivities } from '@temporalio/workflow';
import type { OrderActivities } from '../../activities/orders';

export interface SettleOrderWorkflowInput {
  /** Task queue of the worker process that runs the activity. */
  activityTaskQueue: string;
  orderId: string;
  elderId: string;
  volunteerId: string;
  minutes: number;
}

/**
 * Calls the real settleOrder activity, for test/ledger-crash.test.ts. The
 * start-to-close timeout is 3 seconds instead of the order workflow's 30, so
 * the retry after a killed worker comes within seconds.
 */
export async function settleOrderWorkflow(input: SettleOrderWorkflowInput) {
  const { settleOrder } = proxyActivities<OrderActivities>({
    taskQueue: input.activityTaskQueue,
    startToCloseTimeout: '3 seconds',
    retry: { initialInterval: '500 milliseconds', backoffCoefficient: 2, maximumInterval: '2 seconds', maximumAttempts: 10 },
  });
  return settleOrder({
    orderId: input.orderId,
    elderId: input.elderId,
    volunteerId: input.volunteerId,
    minutes: input.minutes,
  });
}
