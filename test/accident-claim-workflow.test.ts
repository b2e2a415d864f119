import { randomBytes, randomUUID } from 'node:crypto';
import { WorkflowHandle } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createRegistryActivities } from '../activities/registry';
import { AccidentClaimState } from '../domain/accident-claim';
import { createRegistryClient, RegistryClient } from '../registry/client';
import { RegistrySimulator, startRegistrySimulator } from '../registry/simulator';
import { accidentClaimWorkflow, closeClaim, followUpRecorded, getClaimState } from '../workflows/accident-claim';
import { createTestDatabase, TestDatabase } from './support/db';
import { createCaseWorker, insertCasePerson, startAccidentClaim, startCaseTestEnvironment } from './support/case-env';
import { recordHistory, silentLogger } from './support/order-env';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const API_KEY = randomBytes(24).toString('hex');

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let simulator: RegistrySimulator;
let registry: RegistryClient;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `claims-${randomUUID()}`;

beforeAll(async () => {
  env = await startCaseTestEnvironment();
  db = await createTestDatabase();
  simulator = await startRegistrySimulator({ databaseUrl: db.url, apiKey: API_KEY });
  registry = createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 5_000 });
  worker = await createCaseWorker(env, db.orm, taskQueue, registry);
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await simulator?.stop();
  await env?.teardown();
  await db?.drop();
});

beforeEach(() => {
  simulator.setFaults({});
});

type ClaimHandle = WorkflowHandle<typeof accidentClaimWorkflow>;

/** Inserts a volunteer, insured at the registry unless `insurance` names another cover, and an elder. */
async function people(insurance: 'registry' | 'organisation' | 'none' = 'registry') {
  const volunteer = await insertCasePerson(db.orm, { birthDate: '1990-05-01', insurance });
  const elder = await insertCasePerson(db.orm);
  if (insurance === 'registry') {
    await simulator.seedVolunteers([{ volunteerRef: volunteer.id, insuredUntil: '2099-12-31' }]);
  }
  return { volunteerId: volunteer.id, elderId: elder.id };
}

/** Advances workflow time in steps of `step` until the claim reaches one of `statuses`. */
async function reachStatus(handle: ClaimHandle, statuses: string[], step = MINUTE): Promise<AccidentClaimState> {
  for (let round = 0; round < 60; round += 1) {
    const state = await handle.query(getClaimState);
    if (statuses.includes(state.status)) return state;
    await env.sleep(step);
  }
  throw new Error(`claim did not reach ${statuses.join(' or ')}`);
}

/** Moves a claim at the simulated registry to its next status (submitted, reviewing, approved, closed). */
async function advance(claimId: string): Promise<string> {
  const res = await fetch(`${simulator.url}/_sim/claims/${claimId}/advance`, {
    method: 'POST',
    headers: { authorization: `Bearer ${API_KEY}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const body = (await res.json()) as { status: string };
  expect(res.status).toBe(200);
  return body.status;
}

async function advanceToClosed(claimId: string): Promise<void> {
  for (const expected of ['reviewing', 'approved', 'closed']) {
    expect(await advance(claimId)).toBe(expected);
  }
}

async function notificationKinds(subjectId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ kind: string }>>(`select kind from notification where subject_id = ? order by id`, [subjectId]);
  return rows.map((r) => r.kind);
}

async function timeline(claimId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ event: string }>>(`select event from case_event where case_id = ? order by seq`, [claimId]);
  return rows.map((r) => r.event);
}

test('claim with record on file closes', async () => {
  const p = await people();
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  // The record is shared at settlement, before the accident is reported.
  await createRegistryActivities(db.orm, silentLogger, registry).pushServiceRecord({ orderId: claim.orderId });

  const following = await reachStatus(claim.handle, ['following']);
  expect(following.route).toBe('registry');
  expect(following.backfilled).toBe(false);
  expect(following.registryStatus).toBe('submitted');

  expect(await advance(claim.claimId)).toBe('reviewing');
  expect(await advance(claim.claimId)).toBe('approved');
  await env.sleep(DAY);
  expect((await claim.handle.query(getClaimState)).registryStatus).toBe('approved');
  expect(await advance(claim.claimId)).toBe('closed');
  const final = await claim.handle.result();
  expect(final.status).toBe('closed');
  expect(final.registryOutcome).toBe('approved');
  const events = await timeline(claim.claimId);
  expect(events.slice(0, 4)).toEqual(['reported', 'volunteer_checked', 'service_record_on_file', 'claim_submitted']);
  expect(events[events.length - 1]).toBe('claim_status');
  const [row] = await db.orm.em.fork().execute<Array<{ status: string; registry_status: string }>>(
    `select status, registry_status from accident_claim where id = ?`,
    [claim.claimId],
  );
  expect(row).toEqual({ status: 'closed', registry_status: 'closed' });
  await recordHistory('accident-claim-closed', claim.handle);
});

test('missing record is back-filled', async () => {
  const p = await people();
  const before = await simulator.stats();
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  const following = await reachStatus(claim.handle, ['following']);
  expect(following.backfilled).toBe(true);
  expect(following.recordOnFile).toBe(true);
  const after = await simulator.stats();
  expect(after.backfilledRecords - before.backfilledRecords).toBe(1);
  expect(await timeline(claim.claimId)).toContain('backfill_confirmed');
  await advanceToClosed(claim.claimId);
  expect(await claim.handle.result()).toMatchObject({ status: 'closed' });
});

test('lost back-fill escalates after 48 hours', async () => {
  const p = await people();
  // The registry acknowledges every record write but stores none.
  simulator.setFaults({ loseRecordRate: 1, seed: 11 });
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  await reachStatus(claim.handle, ['backfilling']);
  await env.sleep(47 * HOUR);
  expect(await notificationKinds(claim.claimId)).toEqual([]);
  await env.sleep(2 * HOUR);
  const overdue = await claim.handle.query(getClaimState);
  expect(overdue.backfillEscalated).toBe(true);
  expect(await notificationKinds(claim.claimId)).toEqual(['claim_backfill_overdue']);
  expect(await timeline(claim.claimId)).toContain('backfill_not_stored');

  simulator.setFaults({});
  const following = await reachStatus(claim.handle, ['following'], HOUR);
  expect(following.backfilled).toBe(true);
  await advanceToClosed(claim.claimId);
  expect(await claim.handle.result()).toMatchObject({ status: 'closed' });
  await recordHistory('accident-claim-backfill-overdue', claim.handle);
});

test('overdue answer is escalated to staff', async () => {
  const p = await people();
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  await reachStatus(claim.handle, ['following']);
  await env.sleep(29 * DAY);
  expect(await notificationKinds(claim.claimId)).toEqual([]);
  await env.sleep(2 * DAY);
  expect(await notificationKinds(claim.claimId)).toEqual(['claim_answer_overdue_submitted_1']);
  expect((await claim.handle.query(getClaimState)).answerEscalations).toBe(1);
  await advanceToClosed(claim.claimId);
  expect(await claim.handle.result()).toMatchObject({ status: 'closed' });
  await recordHistory('accident-claim-answer-overdue', claim.handle);
});

test('organisation-insured volunteer is handed over', async () => {
  const p = await people('organisation');
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  const handed = await reachStatus(claim.handle, ['handed_to_organisation']);
  expect(handed.route).toBe('organisation');
  const calls = await db.orm.em.fork().execute<Array<{ id: string; reason: string }>>(
    `select id, reason from follow_up_call where subject_kind = 'claim' and subject_id = ?`,
    [claim.claimId],
  );
  expect(calls.map((c) => c.reason)).toEqual(['organisation_handoff']);

  await env.sleep(3 * DAY + MINUTE);
  expect(await notificationKinds(claim.claimId)).toEqual(['claim_handoff_overdue']);
  const agent = { id: randomUUID(), role: 'agent' as const };
  await claim.handle.signal(followUpRecorded, { callId: calls[0].id, reason: 'organisation_handoff', reached: false, actor: agent });
  await env.sleep(MINUTE);
  expect((await claim.handle.query(getClaimState)).status).toBe('handed_to_organisation');
  await claim.handle.signal(followUpRecorded, { callId: calls[0].id, reason: 'organisation_handoff', reached: true, actor: agent });
  expect(await claim.handle.result()).toMatchObject({ status: 'handed_over' });
  expect(await timeline(claim.claimId)).toEqual(
    expect.arrayContaining(['handed_to_organisation', 'handoff_overdue', 'follow_up_call_not_reached', 'follow_up_call_reached']),
  );
  await recordHistory('accident-claim-organisation', claim.handle);
});

test('uninsured volunteer is escalated', async () => {
  const p = await people('none');
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  expect(await claim.handle.result()).toMatchObject({ status: 'not_covered' });
  expect(await notificationKinds(claim.claimId)).toEqual(['claim_not_covered']);
});

test('rejected request waits for staff', async () => {
  const p = await people();
  const claim = await startAccidentClaim(env, db.orm, taskQueue, p);
  // The registry stores the record under another volunteer, so it rejects the claim for good.
  const other = await insertCasePerson(db.orm, { birthDate: '1991-01-01' });
  await registry.putServiceRecord(claim.orderId, {
    volunteerRef: other.id,
    serviceItem: 'outing_companionship',
    place: { districtCode: '110105', streetCode: '110105001' },
    startedAt: '2024-05-01T01:00:00.000Z',
    endedAt: '2024-05-01T02:00:00.000Z',
    minutes: 60,
  });
  const waiting = await reachStatus(claim.handle, ['needs_staff']);
  expect(waiting.lastError).toMatch(/^REGISTRY_VOLUNTEER_MISMATCH/);
  expect(await notificationKinds(claim.claimId)).toEqual(['claim_needs_staff']);
  const staff = { id: randomUUID(), role: 'district_officer' as const, districtCode: '110105' };
  const closed = await claim.handle.executeUpdate(closeClaim, { args: [{ actor: staff, reason: '转线下处理' }] });
  expect(closed.status).toBe('cancelled');
  expect(await claim.handle.result()).toMatchObject({ status: 'cancelled', closedBy: staff.id });
});

/** Claims in the flaky-registry test; FLAKY_REGISTRY_CLAIMS=50 runs the full acceptance count. */
const FLAKY_REGISTRY_CLAIMS = Number(process.env.FLAKY_REGISTRY_CLAIMS ?? 4);

test('flaky registry: one claim each, all closed', async () => {
  const before = await simulator.stats();
  simulator.setFaults({ failRate: 0.5, seed: 20261205 });
  // One claim at a time: with several workflows calling activities while the
  // test sleeps, the time-skipping test server (1.40.0) has lost count of its
  // time-skipping locks and fallen back to real time.
  const finals: AccidentClaimState[] = [];
  const timelines: string[][] = [];
  for (let i = 0; i < FLAKY_REGISTRY_CLAIMS; i += 1) {
    const claim = await startAccidentClaim(env, db.orm, taskQueue, await people());
    await reachStatus(claim.handle, ['following'], 10 * MINUTE);
    await advanceToClosed(claim.claimId);
    finals.push(await claim.handle.result());
    timelines.push(await timeline(claim.claimId));
    if (i === 0) await recordHistory('accident-claim-flaky-registry', claim.handle);
  }
  for (const final of finals) expect(final.status).toBe('closed');

  const after = await simulator.stats();
  expect(after.claims - before.claims).toBe(finals.length);
  expect(after.duplicatesRejected - before.duplicatesRejected).toBe(0);
  expect(after.injectedFailures).toBeGreaterThan(0);
  const failedAttempts = timelines.flat().filter((e) => e.endsWith('_attempt_failed'));
  expect(failedAttempts.length).toBeGreaterThan(0);
}, 60_000 + FLAKY_REGISTRY_CLAIMS * 20_000);
