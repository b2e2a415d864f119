import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { Express } from 'express';
import type { Logger } from 'pino';
import { createApp } from '../api/app';
import { migrate, openOrm } from '../db/orm';
import { sealLegacyPersonalData } from '../db/persons';
import { loadReferenceData } from '../db/reference';
import type { AppConfig } from '../domain/config';
import { createWorker } from '../worker/worker';
import { PersonalDataCipher } from './personal-data';
import { connectRegistry, RegistryConnection } from './registry';
import { ensureReconciliationSchedule } from './schedules';
import { connectTemporal } from './temporal';

export interface SystemOptions {
  config: AppConfig;
  databaseUrl: string;
  temporalAddress: string;
  jwtSecret: string;
  logger: Logger;
  /** Whether this process runs the API; true by default. */
  runApi?: boolean;
  /** Whether this process runs the worker; true by default. */
  runWorker?: boolean;
}

export interface RunningSystem {
  orm: MikroORM;
  temporal: Client;
  /** Base URL of the API, when it runs in this process. */
  apiUrl?: string;
  /** The express application, when the API runs in this process. */
  app?: Express;
  personalData: PersonalDataCipher;
  worker?: Worker;
  /** Volunteer Beijing as the worker reaches it, when the worker runs in this process. */
  registry?: RegistryConnection;
  /** Stops the API, lets running activities finish, then closes connections. */
  stop(): Promise<void>;
}

/**
 * Migrates the database, loads reference data and starts the API and the
 * worker against the given PostgreSQL and Temporal servers.
 */
export async function startSystem(opts: SystemOptions): Promise<RunningSystem> {
  const { config, logger } = opts;
  if (!config.dataProtection) {
    throw new Error(
      'TIMEBANK_DATA_KEYS, TIMEBANK_DATA_KEY_ID and TIMEBANK_DATA_HASH_KEY must be set (npm start creates local keys in the data folder)',
    );
  }
  const personalData = new PersonalDataCipher(config.dataProtection);
  const orm = await openOrm(opts.databaseUrl);
  const applied = await migrate(orm);
  if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
  const sealed = await sealLegacyPersonalData(orm, personalData);
  if (sealed > 0) logger.info({ persons: sealed }, 'plain-text ID and phone numbers encrypted');
  const reference = await loadReferenceData(orm.em.fork());
  logger.info(reference, 'reference data loaded');

  const temporal = await connectTemporal(opts.temporalAddress, config.temporal.namespace);

  let worker: Worker | undefined;
  let workerConnection: NativeConnection | undefined;
  let workerRun: Promise<void> | undefined;
  let registry: RegistryConnection | undefined;
  if (opts.runWorker !== false) {
    registry = await connectRegistry(config, opts.databaseUrl, logger);
    const created = await createWorker({
      orm,
      logger: logger.child({ component: 'worker' }),
      address: opts.temporalAddress,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      registry: registry.client,
    });
    worker = created.worker;
    workerConnection = created.connection;
    workerRun = worker.run().catch((err) => {
      logger.error({ err }, 'worker stopped with an error');
    });
    logger.info({ taskQueue: config.temporal.taskQueue }, 'worker started');
    await ensureReconciliationSchedule(temporal, config.temporal.taskQueue, logger);
  }

  let server: Server | undefined;
  let apiUrl: string | undefined;
  let app: Express | undefined;
  if (opts.runApi !== false) {
    app = createApp({
      orm,
      temporal,
      config,
      logger: logger.child({ component: 'api' }),
      jwtSecret: opts.jwtSecret,
      personalData,
    });
    server = await new Promise<Server>((resolve, reject) => {
      const s = app!.listen(config.api.port, config.api.host, () => resolve(s));
      s.once('error', reject);
    });
    const address = server.address() as AddressInfo;
    apiUrl = `http://${config.api.host}:${address.port}`;
    logger.info({ apiUrl }, 'API listening');
  }

  let stopped = false;
  return {
    orm,
    temporal,
    apiUrl,
    app,
    personalData,
    worker,
    registry,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (server) {
        const closed = new Promise<void>((resolve) => server!.close(() => resolve()));
        server.closeIdleConnections();
        await closed;
      }
      if (worker && worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
      await workerConnection?.close();
      await registry?.stop();
      await temporal.connection.close();
      await orm.close(true);
      logger.info('system stopped');
    },
  };
}
