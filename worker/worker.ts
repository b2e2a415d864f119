import { MikroORM } from '@mikro-orm/postgresql';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Logger } from 'pino';
import { createOrderActivities } from '../activities/orders';
import { createReconciliationActivities } from '../activities/reconciliation';
import { createClaimActivities } from '../activities/accident-claim';
import { createCareHomeActivities } from '../activities/care-home';
import { createRegistryActivities } from '../activities/registry';
import type { RegistryClient } from '../registry/client';

export interface WorkerOptions {
  orm: MikroORM;
  logger: Logger;
  address: string;
  namespace: string;
  taskQueue: string;
  /** Client of Volunteer Beijing; without it service records are not pushed and claims wait for staff. */
  registry?: RegistryClient;
}

/**
 * Creates the Temporal worker with every workflow and activity of the time
 * bank. The caller runs it and shuts it down; shutdown lets running
 * activities finish first.
 */
export async function createWorker(opts: WorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const connection = await NativeConnection.connect({ address: opts.address });
  const worker = await Worker.create({
    connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowsPath: require.resolve('../workflows'),
    activities: {
      ...createOrderActivities(opts.orm, opts.logger),
      ...createReconciliationActivities(opts.orm, opts.logger),
      ...createCareHomeActivities(opts.orm, opts.logger),
      ...createClaimActivities(opts.orm, opts.logger),
      ...createRegistryActivities(opts.orm, opts.logger, opts.registry),
    },
    shutdownGraceTime: '30 seconds',
  });
  return { worker, connection };
}
