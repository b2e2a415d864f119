import { randomUUID } from 'node:crypto';
import { WorkflowHandle } from '@temporalio/client';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TypedSearchAttributes } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Worker, WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { createOrderActivities } from '../../activities/orders';
import { createRegistryActivities } from '../../activities/registry';
import { defaultPolicy } from '../../domain/policy';
import { OrderWorkflowInput, orderWorkflowId } from '../../domain/order';
import { DISTRICT_CODE, ELDER_ID, ORDER_STATUS } from '../../domain/search-attributes';
import { orderWorkflow } from '../../workflows/order';
import { DISTRICT, STREET } from './fixtures';

let bundle: WorkflowBundleWithSourceMap | undefined;

/** Bundles the workflow code once per test process. */
export async function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: new DefaultLogger('WARN'),
  });
  return bundle;
}

export const silentLogger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });

export async function createTestWorker(env: TestWorkflowEnvironment, orm: MikroORM, taskQueue: string): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: { ...createOrderActivities(orm, silentLogger), ...createRegistryActivities(orm, silentLogger, undefined) },
  });
}

/** Registers the order search attributes on a test server, which starts without them. */
export async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: {
      OrderStatus: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      DistrictCode: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      ElderId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
      VolunteerId: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    },
  });
}

/**
 * Saves the workflow's history under test/histories when RECORD_HISTORIES=1,
 * so test/replay.test.ts can replay it against later versions of the code.
 */
export async function recordHistory(name: string, handle: WorkflowHandle): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const dir = join(__dirname, '..', 'histories');
  mkdirSync(dir, { recursive: true });
  // Binary protobuf: the JSON helpers of @temporalio/common bundle their own
  // protobufjs and reject the client's History messages.
  writeFileSync(join(dir, `${name}.pb`), temporal.api.history.v1.History.encode(history).finish());
}

export function timeSkippingServerPath(): string {
  const path = process.env.TEMPORAL_TEST_SERVER_PATH;
  if (!path) throw new Error('TEMPORAL_TEST_SERVER_PATH is not set; run the tests through jest so global-setup installs it');
  return path;
}

export interface StartedOrder {
  orderId: string;
  handle: WorkflowHandle<typeof orderWorkflow>;
  input: OrderWorkflowInput;
}

/**
 * Inserts the order's read-model row and starts its workflow, as the API does.
 * `startInMinutes` counts from the test server's current time.
 */
export async function startOrder(
  env: TestWorkflowEnvironment,
  orm: MikroORM,
  taskQueue: string,
  opts: { elderId: string; startInMinutes: number; bookedMinutes?: number },
): Promise<StartedOrder> {
  const now = await env.currentTimeMs();
  const orderId = randomUUID();
  const bookedMinutes = opts.bookedMinutes ?? 60;
  const scheduledStart = new Date(now + opts.startInMinutes * 60_000);
  await orm.em.fork().execute(
    `insert into service_order (id, elder_id, district_code, street_code, category, description, address,
       scheduled_start, booked_minutes, status, created_by, idempotency_key, request_hash)
     values (?, ?, ?, ?, 'emotional_comfort', 'chat', 'addr', ?, ?, 'pending_review', ?, ?, 'h')`,
    [orderId, opts.elderId, DISTRICT, STREET, scheduledStart, bookedMinutes, opts.elderId, orderId],
  );
  const input: OrderWorkflowInput = {
    orderId,
    elderId: opts.elderId,
    districtCode: DISTRICT,
    scheduledStart: scheduledStart.toISOString(),
    requestedAt: new Date(now).toISOString(),
    bookedMinutes,
    settings: { policy: defaultPolicy, minuteMs: 60_000 },
  };
  const handle = await env.client.workflow.start(orderWorkflow, {
    taskQueue,
    workflowId: orderWorkflowId(orderId),
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: ORDER_STATUS, value: 'pending_review' },
      { key: DISTRICT_CODE, value: DISTRICT },
      { key: ELDER_ID, value: opts.elderId },
    ]),
  });
  return { orderId, handle, input };
}
