/**
 * A Temporal worker process with the real order activities, for
 * test/ledger-crash.test.ts. Needs DATABASE_URL, TEMPORAL_ADDRESS and
 * TASK_QUEUE. When CRASH_AFTER_SETTLEMENT_MARKER names a file that does not
 * exist yet, the process writes that file and kills itself with SIGKILL right
 * after a settlement transaction has committed, before the activity reports
 * its completion to Temporal. Prints "ready" once the worker polls.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { NativeConnection, Worker } from '@temporalio/worker';
import pino from 'pino';
import { createOrderActivities } from '../../activities/orders';
import { openOrm } from '../../db/orm';

function requiredEnv(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} must be set`);
  return value;
}

async function main(): Promise<void> {
  const orm = await openOrm(requiredEnv('DATABASE_URL'), 2);
  const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'warn' });
  const activities = createOrderActivities(orm, logger);
  const marker = process.env.CRASH_AFTER_SETTLEMENT_MARKER;

  const settleOrder: typeof activities.settleOrder = async (input) => {
    const result = await activities.settleOrder(input);
    if (marker && !existsSync(marker)) {
      writeFileSync(marker, `${process.pid}\n`);
      process.kill(process.pid, 'SIGKILL');
    }
    return result;
  };

  const connection = await NativeConnection.connect({ address: requiredEnv('TEMPORAL_ADDRESS') });
  // Temporal's runtime shuts the worker down on SIGTERM and SIGINT and lets running activities finish.
  const worker = await Worker.create({
    connection,
    namespace: 'default',
    taskQueue: requiredEnv('TASK_QUEUE'),
    activities: { ...activities, settleOrder },
  });
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
  await connection.close();
  await orm.close(true);
}

main().catch((err) => {
  process.stderr.write(`settlement worker failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
