import { randomUUID } from 'node:crypto';
import { RECONCILIATION_SCHEDULE_ID } from '../runtime/schedules';
import { ApiEnv, startApiEnv } from './support/api-env';
import { fund, insertPerson } from './support/fixtures';

let api: ApiEnv;
let operator: string;

beforeAll(async () => {
  api = await startApiEnv();
  operator = await api.token({ sub: randomUUID(), role: 'operator' });
});

afterAll(async () => {
  await api?.stop();
});

test('nightly schedule exists', async () => {
  const description = await api.system.temporal.schedule.getHandle(RECONCILIATION_SCHEDULE_ID).describe();
  expect(description.spec.calendars?.[0]?.hour).toEqual([{ start: 3, end: 3, step: 1 }]);
  expect(description.spec.timezone).toBe('Asia/Shanghai');
});

test('clean ledger reports no discrepancy', async () => {
  const elder = await insertPerson(api.db.orm, { elder: true });
  await fund(api.db.orm, elder.id, 120);
  const run = await api.call('POST', '/v1/ops/reconciliations', { token: operator, body: {} });
  expect(run.status).toBe(201);
  expect(run.body.ok).toBe(true);
  expect(run.body.problems).toEqual([]);
  expect(run.body.accountsChecked).toBeGreaterThan(0);
});

test('tampered balance is reported', async () => {
  const elder = await insertPerson(api.db.orm, { elder: true });
  await fund(api.db.orm, elder.id, 60);
  // Accounts are not append-only, so a direct update is the kind of damage reconciliation must catch.
  await api.db.orm.em.fork().execute(`update account set balance = balance + 1 where id = ?`, [`person:${elder.id}`]);
  const run = await api.call('POST', '/v1/ops/reconciliations', { token: operator, body: {} });
  expect(run.status).toBe(201);
  expect(run.body.ok).toBe(false);
  expect(run.body.problems.join('\n')).toContain(`person:${elder.id}`);
  const list = await api.call('GET', '/v1/ops/reconciliations', { token: operator });
  expect(list.body.items[0].id).toBe(run.body.id);
  await api.db.orm.em.fork().execute(`update account set balance = balance - 1 where id = ?`, [`person:${elder.id}`]);
});

test('reconciliation needs an operator', async () => {
  const elder = await api.token({ sub: randomUUID(), role: 'elder' });
  const run = await api.call('POST', '/v1/ops/reconciliations', { token: elder, body: {} });
  expect(run.status).toBe(403);
});
