import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createOrderActivities } from '../activities/orders';
import { checkLedger, getBalance } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { reservationId, settlementTransferId } from '../domain/order';
import { createTestDatabase, TestDatabase } from './support/db';
import { fund, insertPerson } from './support/fixtures';
import { silentLogger } from './support/order-env';
import { settleOrderWorkflow } from './support/settlement-workflows';

/*
 * Kills a worker process with SIGKILL after the settlement transaction has
 * committed but before Temporal hears that the activity completed. Temporal
 * retries the activity on a fresh worker process, and the ledger must end
 * with exactly one settlement transfer and the right balances.
 */

const RUNS = Number(process.env.LEDGER_CRASH_RUNS ?? 20);
const BOOKED_MINUTES = 60;
const FUNDED_MINUTES = 600;
const WORKER_SCRIPT = join(__dirname, 'support', 'settlement-worker.ts');
const REPO_ROOT = join(__dirname, '..');

interface WorkerProcess {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

let db: TestDatabase;
let address: string;
let client: Client;
let clientConnection: Connection;
let workflowConnection: NativeConnection;
let workflowWorker: Worker;
let workflowWorkerRunning: Promise<void>;
let markerDir: string;
const workflowTaskQueue = `crash-workflows-${randomUUID()}`;
const children = new Set<ChildProcess>();

beforeAll(async () => {
  const temporalAddress = process.env.TEMPORAL_TEST_ADDRESS;
  if (!temporalAddress) throw new Error('TEMPORAL_TEST_ADDRESS is not set; run the tests through jest so global-setup starts Temporal');
  address = temporalAddress;
  // Keep the workflow worker's state changes out of the test output.
  Runtime.install({ logger: new DefaultLogger('WARN') });
  db = await createTestDatabase();
  markerDir = mkdtempSync(join(tmpdir(), 'timebank-crash-'));
  clientConnection = await Connection.connect({ address });
  client = new Client({ connection: clientConnection, namespace: 'default' });
  workflowConnection = await NativeConnection.connect({ address });
  workflowWorker = await Worker.create({
    connection: workflowConnection,
    namespace: 'default',
    taskQueue: workflowTaskQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('./support/settlement-workflows'),
      logger: new DefaultLogger('WARN'),
    }),
  });
  workflowWorkerRunning = workflowWorker.run();
}, 120_000);

afterEach(() => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  children.clear();
});

afterAll(async () => {
  workflowWorker?.shutdown();
  await workflowWorkerRunning;
  await workflowConnection?.close();
  await clientConnection?.close();
  await db?.drop();
  if (markerDir) rmSync(markerDir, { recursive: true, force: true });
});

/** Spawns the worker script with ts-node and resolves once it prints "ready". */
function startWorkerProcess(taskQueue: string, crashMarker?: string): Promise<WorkerProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    TEMPORAL_ADDRESS: address,
    TASK_QUEUE: taskQueue,
  };
  delete env.CRASH_AFTER_SETTLEMENT_MARKER;
  if (crashMarker) env.CRASH_AFTER_SETTLEMENT_MARKER = crashMarker;
  const child = spawn(process.execPath, [require.resolve('ts-node/dist/bin.js'), '--transpile-only', WORKER_SCRIPT], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  const worker: WorkerProcess = { child, exited, output: () => output };
  child.stderr!.on('data', (chunk) => (output += chunk));

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker process did not start within 60 s:\n${output}`)), 60_000);
    child.stdout!.on('data', (chunk) => {
      output += chunk;
      if (output.includes('ready\n')) {
        clearTimeout(timer);
        resolve(worker);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`worker process exited before it was ready (code ${code}, signal ${signal}):\n${output}`));
    });
  });
}

/** Resolves with the exit of `worker`, or rejects after `ms`. */
async function waitForExit(worker: WorkerProcess, ms: number) {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`worker process still running after ${ms} ms:\n${worker.output()}`)), ms);
  });
  try {
    return await Promise.race([worker.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function settlementTransfers(orderId: string) {
  return db.orm.em.fork().execute<Array<{ id: string; kind: string; amount: string }>>(
    `select id, kind, amount from transfer where order_id = ?`,
    [orderId],
  );
}

async function servedMinutes(personId: string): Promise<number> {
  const [row] = await db.orm.em.fork().execute<Array<{ served: string }>>(`select served_minutes as served from person where id = ?`, [
    personId,
  ]);
  return Number(row.served);
}

const iterations = Array.from({ length: RUNS }, (_, i) => i + 1);

test.each(iterations)('crash after commit settles once #%i', async (iteration) => {
  const minutes = [30, 60, 90][iteration % 3];
  const elder = await insertPerson(db.orm, { elder: true });
  await fund(db.orm, elder.id, FUNDED_MINUTES);
  const volunteer = await insertPerson(db.orm, { volunteer: true });
  const orderId = randomUUID();
  await createOrderActivities(db.orm, silentLogger).reserveOrderCoins({ orderId, elderId: elder.id, minutes: BOOKED_MINUTES });

  const activityTaskQueue = `crash-activities-${orderId}`;
  const marker = join(markerDir, `${orderId}.crashed`);
  const crashing = await startWorkerProcess(activityTaskQueue, marker);
  const handle = await client.workflow.start(settleOrderWorkflow, {
    taskQueue: workflowTaskQueue,
    workflowId: `crash-settlement-${orderId}`,
    args: [{ activityTaskQueue, orderId, elderId: elder.id, volunteerId: volunteer.id, minutes }],
  });

  const crash = await waitForExit(crashing, 60_000);
  expect(crash.signal).toBe('SIGKILL');
  expect(existsSync(marker)).toBe(true);
  expect(await settlementTransfers(orderId)).toHaveLength(1);
  expect((await handle.describe()).status.name).toBe('RUNNING');

  const restarted = await startWorkerProcess(activityTaskQueue);
  const result = await handle.result();
  restarted.child.kill('SIGTERM');
  const stop = await waitForExit(restarted, 30_000);

  expect(result).toEqual({ replayed: true, postedMinutes: minutes });
  expect(stop.code).toBe(0);
  expect(await settlementTransfers(orderId)).toEqual([
    { id: settlementTransferId(orderId), kind: 'order_settlement', amount: String(minutes) },
  ]);
  const entries = await db.orm.em
    .fork()
    .execute(`select account_id from entry where transfer_id = ?`, [settlementTransferId(orderId)]);
  expect(entries).toHaveLength(2);
  expect(await getBalance(db.orm.em.fork(), personalAccountId(elder.id))).toMatchObject({
    balance: FUNDED_MINUTES - minutes,
    reserved: 0,
  });
  expect(await getBalance(db.orm.em.fork(), personalAccountId(volunteer.id))).toMatchObject({ balance: minutes, reserved: 0 });
  expect(await servedMinutes(volunteer.id)).toBe(minutes);
  const [reservation] = await db.orm.em
    .fork()
    .execute<Array<{ status: string }>>(`select status from reservation where id = ?`, [reservationId(orderId)]);
  expect(reservation.status).toBe('posted');

  const history = await handle.fetchHistory();
  const started = history.events!.find((e) => e.activityTaskStartedEventAttributes)!.activityTaskStartedEventAttributes!;
  expect(started.attempt).toBeGreaterThanOrEqual(2);
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
});
