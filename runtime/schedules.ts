import { Client, ScheduleAlreadyRunning, ScheduleOverlapPolicy } from '@temporalio/client';
import type { Logger } from 'pino';
import { reconciliationWorkflow } from '../workflows/reconciliation';

export const RECONCILIATION_SCHEDULE_ID = 'ledger-reconciliation';

/**
 * Creates the nightly reconciliation schedule (03:00 Asia/Shanghai) unless it
 * exists. Every process may call this at start; the first one creates it.
 */
export async function ensureReconciliationSchedule(client: Client, taskQueue: string, logger: Logger): Promise<void> {
  try {
    await client.schedule.create({
      scheduleId: RECONCILIATION_SCHEDULE_ID,
      spec: { calendars: [{ hour: 3, comment: 'nightly ledger reconciliation' }], timezone: 'Asia/Shanghai' },
      action: {
        type: 'startWorkflow',
        workflowType: reconciliationWorkflow,
        args: ['schedule'],
        taskQueue,
        workflowId: 'reconciliation-scheduled',
      },
      policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 day' },
    });
    logger.info({ scheduleId: RECONCILIATION_SCHEDULE_ID }, 'reconciliation schedule created');
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) return;
    throw err;
  }
}
