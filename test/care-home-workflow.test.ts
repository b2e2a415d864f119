import { randomUUID } from 'node:crypto';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { vacateBed } from '../db/cases';
import { checkLedger, getBalance, postTransfer } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { Actor } from '../domain/order';
import {
  admitCase,
  approveCase,
  getCareHomeCase,
  placeCase,
  recordAssessment,
  rejectCase,
  withdrawCase,
} from '../workflows/care-home';
import { createTestDatabase, TestDatabase } from './support/db';
import {
  createCareHomeWithBeds,
  createCaseWorker,
  insertCasePerson,
  signalWaitingCases,
  startCareHomeCase,
  startCaseTestEnvironment,
} from './support/case-env';
import { fund } from './support/fixtures';
import { recordHistory } from './support/order-env';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const TEN_THOUSAND_HOURS = 600_000;

let env: TestWorkflowEnvironment;
let db: TestDatabase;
let worker: Worker;
let running: Promise<void>;
const taskQueue = `care-home-${randomUUID()}`;

beforeAll(async () => {
  env = await startCaseTestEnvironment();
  db = await createTestDatabase();
  worker = await createCaseWorker(env, db.orm, taskQueue);
  running = worker.run();
});

afterAll(async () => {
  worker?.shutdown();
  await running;
  await env?.teardown();
  await db?.drop();
});

/** Each test places in a district of its own, so bed pools never mix. */
const officer = (districtCode: string): Actor => ({ id: randomUUID(), role: 'district_officer', districtCode });

/** Inserts an applicant born in 1950 with `servedMinutes` of own service and `coinMinutes` granted. */
async function applicant(opts: { servedMinutes?: number; coinMinutes?: number; birthDate?: string } = {}) {
  const person = await insertCasePerson(db.orm, { birthDate: opts.birthDate });
  await db.orm.em.fork().execute(`update person set served_minutes = ? where id = ?`, [
    opts.servedMinutes ?? TEN_THOUSAND_HOURS,
    person.id,
  ]);
  if ((opts.coinMinutes ?? TEN_THOUSAND_HOURS) > 0) await fund(db.orm, person.id, opts.coinMinutes ?? TEN_THOUSAND_HOURS);
  return person;
}

async function balance(personId: string) {
  return (await getBalance(db.orm.em.fork(), personalAccountId(personId)))!;
}

async function notificationKinds(caseId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ kind: string }>>(`select kind from notification where subject_id = ? order by id`, [caseId]);
  return rows.map((r) => r.kind);
}

async function followUpReasons(caseId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ reason: string }>>(`select reason from follow_up_call where subject_kind = 'case' and subject_id = ? order by created_at`, [caseId]);
  return rows.map((r) => r.reason);
}

async function readModel(caseId: string) {
  const [row] = await db.orm.em
    .fork()
    .execute<Array<{ status: string; problems: string[]; bed_id: string | null }>>(
      `select status, problems, bed_id from care_home_case where id = ?`,
      [caseId],
    );
  return row;
}

async function timeline(caseId: string): Promise<string[]> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ event: string }>>(`select event from case_event where case_id = ? order by seq`, [caseId]);
  return rows.map((r) => r.event);
}

async function expectUpdateFailure(promise: Promise<unknown>, type: string): Promise<void> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WorkflowUpdateFailedError);
    const cause = (err as WorkflowUpdateFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect((cause as ApplicationFailure).type).toBe(type);
    return;
  }
  throw new Error(`expected the update to fail with ${type}`);
}

/** Waits, advancing workflow time by a minute per round, until the case reaches `status`. */
async function reachStatus(handle: Awaited<ReturnType<typeof startCareHomeCase>>['handle'], status: string) {
  for (let round = 0; round < 20; round += 1) {
    const state = await handle.query(getCareHomeCase);
    if (state.status === status) return state;
    await env.sleep(MINUTE);
  }
  throw new Error(`case did not reach ${status}`);
}

test('eligible case runs to admission', async () => {
  const district = '110101';
  const home = await createCareHomeWithBeds(db.orm, district, 1);
  const person = await applicant();
  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
  await reachStatus(started.handle, 'awaiting_assessment');
  expect(await balance(person.id)).toMatchObject({ balance: TEN_THOUSAND_HOURS, reserved: TEN_THOUSAND_HOURS });

  const staff = officer(district);
  const assessed = await started.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 2 }] });
  expect(assessed.status).toBe('awaiting_approval');
  const approved = await started.handle.executeUpdate(approveCase, { args: [{ actor: staff, note: '同意' }] });
  expect(approved.status).toBe('awaiting_placement');

  const placed = await reachStatus(started.handle, 'awaiting_admission');
  expect(placed.careHomeId).toBe(home.id);
  expect(placed.bedId).toBe(home.bedIds[0]);
  expect(await followUpReasons(started.caseId)).toEqual(['bed_offered']);

  const admitted = await started.handle.executeUpdate(admitCase, { args: [{ actor: staff }] });
  expect(admitted.status).toBe('admitted');
  expect(admitted.spentMinutes).toBe(TEN_THOUSAND_HOURS);
  expect(await started.handle.result()).toMatchObject({ status: 'admitted' });
  expect(await balance(person.id)).toMatchObject({ balance: 0, reserved: 0 });
  const careHomeAccount = await getBalance(db.orm.em.fork(), 'care_home:city');
  expect(careHomeAccount!.balance).toBeGreaterThanOrEqual(TEN_THOUSAND_HOURS);
  expect(await readModel(started.caseId)).toMatchObject({ status: 'admitted', bed_id: home.bedIds[0] });
  expect(await timeline(started.caseId)).toEqual(['applied', 'eligible', 'assessed', 'approved', 'placed', 'admitted']);
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
  await recordHistory('care-home-admitted', started.handle);
});

test('gifted coins do not count as served hours', async () => {
  const district = '110102';
  // 10,000 coins, but only 8,000 hours of own service: the rest of the coins were gifts.
  const person = await applicant({ servedMinutes: 8_000 * 60, coinMinutes: 0 });
  const donor = await insertCasePerson(db.orm, { birthDate: '1990-05-01' });
  await fund(db.orm, donor.id, TEN_THOUSAND_HOURS);
  await postTransfer(db.orm.em.fork(), {
    id: `test-gift:${randomUUID()}`,
    kind: 'gift',
    debitAccountId: personalAccountId(donor.id),
    creditAccountId: personalAccountId(person.id),
    amount: TEN_THOUSAND_HOURS,
  });

  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
  const final = await started.handle.result();
  expect(final.status).toBe('ineligible');
  expect(final.problems).toEqual(['served_time_short']);
  expect(final.reserved).toBe(false);
  expect(await balance(person.id)).toMatchObject({ balance: TEN_THOUSAND_HOURS, reserved: 0 });
  expect(await readModel(started.caseId)).toMatchObject({ status: 'ineligible', problems: ['served_time_short'] });
  await recordHistory('care-home-ineligible', started.handle);
});

test('eligibility lists every failed rule', async () => {
  const young = await applicant({ birthDate: '1980-01-01', coinMinutes: 60 });
  await db.orm.em
    .fork()
    .execute(`insert into dishonesty_list (id, person_id, reason, listed_by) values (?, ?, '虚报服务时长', ?)`, [
      randomUUID(),
      young.id,
      randomUUID(),
    ]);
  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: young.id, districtCode: '110102' });
  const final = await started.handle.result();
  expect(final.status).toBe('ineligible');
  expect(final.problems).toEqual(['too_young', 'balance_short', 'on_dishonesty_list']);
});

test('rejection releases the reservation', async () => {
  const district = '110106';
  const person = await applicant();
  const staff = officer(district);
  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
  await reachStatus(started.handle, 'awaiting_assessment');
  await started.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 0 }] });

  // Level 0 (intact ability) at 75 does not qualify, so approval is refused.
  await expectUpdateFailure(started.handle.executeUpdate(approveCase, { args: [{ actor: staff }] }), 'CASE_NOT_ELIGIBLE');
  await expectUpdateFailure(started.handle.executeUpdate(admitCase, { args: [{ actor: staff }] }), 'CASE_STATE_CONFLICT');
  await expectUpdateFailure(started.handle.executeUpdate(rejectCase, { args: [{ actor: staff, reason: ' ' }] }), 'VALIDATION_FAILED');
  const rejected = await started.handle.executeUpdate(rejectCase, { args: [{ actor: staff, reason: '能力评估为完好' }] });
  expect(rejected.status).toBe('rejected');
  expect(rejected.decisionNote).toBe('能力评估为完好');
  expect(await balance(person.id)).toMatchObject({ balance: TEN_THOUSAND_HOURS, reserved: 0 });
  expect(await started.handle.result()).toMatchObject({ status: 'rejected' });
  await recordHistory('care-home-rejected', started.handle);
});

test('withdrawal frees the bed and the coins', async () => {
  const district = '110107';
  const home = await createCareHomeWithBeds(db.orm, district, 1);
  const person = await applicant();
  const staff = officer(district);
  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
  await reachStatus(started.handle, 'awaiting_assessment');
  await started.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 3 }] });
  await started.handle.executeUpdate(approveCase, { args: [{ actor: staff }] });
  await reachStatus(started.handle, 'awaiting_admission');

  const self: Actor = { id: person.id, role: 'volunteer' };
  const withdrawn = await started.handle.executeUpdate(withdrawCase, { args: [{ actor: self, reason: '家人照顾' }] });
  expect(withdrawn.status).toBe('withdrawn');
  expect(withdrawn.bedId).toBeUndefined();
  expect(await balance(person.id)).toMatchObject({ reserved: 0, available: TEN_THOUSAND_HOURS });
  const [bed] = await db.orm.em.fork().execute<Array<{ case_id: string | null }>>(`select case_id from care_home_bed where id = ?`, [
    home.bedIds[0],
  ]);
  expect(bed.case_id).toBeNull();
  await recordHistory('care-home-withdrawn', started.handle);
});

test('overdue steps are reminded then escalated', async () => {
  const district = '110109';
  await createCareHomeWithBeds(db.orm, district, 1);
  const person = await applicant();
  const staff = officer(district);
  const started = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
  await reachStatus(started.handle, 'awaiting_assessment');

  await env.sleep(14 * DAY + MINUTE);
  expect(await notificationKinds(started.caseId)).toEqual(['care_home_assessment_overdue']);
  await env.sleep(7 * DAY);
  expect(await notificationKinds(started.caseId)).toEqual(['care_home_assessment_overdue', 'care_home_assessment_escalated']);
  await started.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 1 }] });

  await env.sleep(14 * DAY + MINUTE);
  expect((await started.handle.query(getCareHomeCase)).deadline).toMatchObject({ reminded: true, escalated: false });
  await env.sleep(7 * DAY);
  expect(await notificationKinds(started.caseId)).toEqual([
    'care_home_assessment_overdue',
    'care_home_assessment_escalated',
    'care_home_approval_overdue',
    'care_home_approval_escalated',
  ]);
  await started.handle.executeUpdate(approveCase, { args: [{ actor: staff }] });
  await reachStatus(started.handle, 'awaiting_admission');

  // Admission waits on the applicant: the overdue reminder also books a call to them.
  await env.sleep(30 * DAY + MINUTE);
  expect(await followUpReasons(started.caseId)).toEqual(['bed_offered', 'admission_overdue']);
  await env.sleep(7 * DAY);
  const kinds = await notificationKinds(started.caseId);
  expect(kinds.slice(4)).toEqual(['care_home_admission_overdue', 'care_home_admission_escalated']);
  await started.handle.executeUpdate(admitCase, { args: [{ actor: staff }] });
  expect(await started.handle.result()).toMatchObject({ status: 'admitted' });
  await recordHistory('care-home-every-deadline', started.handle);
});

test('bed queue follows application order', async () => {
  const district = '110111';
  const staff = officer(district);
  const first = await applicant();
  const second = await applicant();
  const a = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: first.id, districtCode: district });
  await env.sleep(MINUTE);
  const b = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: second.id, districtCode: district });
  for (const c of [a, b]) {
    await reachStatus(c.handle, 'awaiting_assessment');
    await c.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 2 }] });
  }
  // The later application is approved first, while the district has no bed.
  await b.handle.executeUpdate(approveCase, { args: [{ actor: staff }] });
  await expectUpdateFailure(b.handle.executeUpdate(placeCase, { args: [{ actor: staff }] }), 'CARE_HOME_NO_FREE_BED');
  await a.handle.executeUpdate(approveCase, { args: [{ actor: staff }] });
  await expectUpdateFailure(b.handle.executeUpdate(placeCase, { args: [{ actor: staff }] }), 'CASE_NOT_FIRST_IN_QUEUE');

  // One bed appears: the earlier application takes it and the later one waits.
  const home = await createCareHomeWithBeds(db.orm, district, 1);
  await signalWaitingCases(env, db.orm, district);
  const placedA = await reachStatus(a.handle, 'awaiting_admission');
  expect(placedA.bedId).toBe(home.bedIds[0]);
  const waitingB = await b.handle.query(getCareHomeCase);
  expect(waitingB.status).toBe('awaiting_placement');

  // The wait has no deadline, but the district is reminded every month.
  await env.sleep(31 * DAY);
  await a.handle.executeUpdate(admitCase, { args: [{ actor: staff }] });
  expect(await notificationKinds(b.caseId)).toContain('care_home_placement_waiting_1');
  expect((await b.handle.query(getCareHomeCase)).status).toBe('awaiting_placement');

  // The first resident leaves; the bed goes to the second applicant.
  expect(await vacateBed(db.orm.em.fork(), home.bedIds[0])).toMatchObject({ outcome: 'vacated' });
  await signalWaitingCases(env, db.orm, district);
  const placedB = await reachStatus(b.handle, 'awaiting_admission');
  expect(placedB.bedId).toBe(home.bedIds[0]);
  await b.handle.executeUpdate(admitCase, { args: [{ actor: staff }] });
  expect(await b.handle.result()).toMatchObject({ status: 'admitted' });
  expect(await timeline(b.caseId)).toContain('placement_reminded');
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
  await recordHistory('care-home-bed-queue', b.handle);
});

test('withdrawing a placed case wakes the queue', async () => {
  const district = '110112';
  const staff = officer(district);
  await createCareHomeWithBeds(db.orm, district, 1);
  const cases = [];
  for (const person of [await applicant(), await applicant()]) {
    const c = await startCareHomeCase(env, db.orm, taskQueue, { applicantId: person.id, districtCode: district });
    await reachStatus(c.handle, 'awaiting_assessment');
    await c.handle.executeUpdate(recordAssessment, { args: [{ actor: staff, abilityLevel: 4 }] });
    await c.handle.executeUpdate(approveCase, { args: [{ actor: staff }] });
    cases.push(c);
    await env.sleep(MINUTE);
  }
  await reachStatus(cases[0].handle, 'awaiting_admission');
  expect((await cases[1].handle.query(getCareHomeCase)).casesAhead).toBe(0);
  await cases[0].handle.executeUpdate(withdrawCase, { args: [{ actor: staff }] });
  await reachStatus(cases[1].handle, 'awaiting_admission');
  await cases[1].handle.executeUpdate(withdrawCase, { args: [{ actor: staff }] });
  expect(await cases[1].handle.result()).toMatchObject({ status: 'withdrawn' });
});
