import { randomUUID } from 'node:crypto';
import { TypedSearchAttributes } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { MikroORM } from '@mikro-orm/postgresql';
import { createCareHomeActivities } from '../../activities/care-home';
import { createClaimActivities } from '../../activities/accident-claim';
import { createOrderActivities } from '../../activities/orders';
import { createRegistryActivities } from '../../activities/registry';
import { insertBeds, insertCareHome, waitingCaseIds } from '../../db/cases';
import { personalAccountId } from '../../db/reference';
import { CareHomeWorkflowInput } from '../../domain/care-home';
import { AccidentClaimWorkflowInput } from '../../domain/accident-claim';
import { accidentClaimWorkflowId, careHomeWorkflowId } from '../../domain/cases';
import { Policy, defaultPolicy } from '../../domain/policy';
import { makeResidentId } from '../../domain/resident-id';
import { CASE_KIND, DISTRICT_CODE } from '../../domain/search-attributes';
import type { RegistryClient } from '../../registry/client';
import { accidentClaimWorkflow } from '../../workflows/accident-claim';
import { bedsChanged, careHomeWorkflow } from '../../workflows/care-home';
import { silentLogger, timeSkippingServerPath, workflowBundle } from './order-env';

/** Starts the time-skipping test server with the search attributes cases and orders use. */
export async function startCaseTestEnvironment(): Promise<TestWorkflowEnvironment> {
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: timeSkippingServerPath() } },
  });
  const keyword = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: { OrderStatus: keyword, DistrictCode: keyword, ElderId: keyword, VolunteerId: keyword, CaseKind: keyword },
  });
  return env;
}

/** Creates a worker with every activity of the time bank; the registry activities call `registry` when given. */
export async function createCaseWorker(
  env: TestWorkflowEnvironment,
  orm: MikroORM,
  taskQueue: string,
  registry?: RegistryClient,
): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: {
      ...createOrderActivities(orm, silentLogger),
      ...createCareHomeActivities(orm, silentLogger),
      ...createClaimActivities(orm, silentLogger),
      ...createRegistryActivities(orm, silentLogger, registry),
    },
  });
}

/** Inserts the application's read-model row and starts its workflow, as the API does. */
export async function startCareHomeCase(
  env: TestWorkflowEnvironment,
  orm: MikroORM,
  taskQueue: string,
  opts: { applicantId: string; districtCode: string; policy?: Partial<Policy> },
) {
  const caseId = randomUUID();
  const appliedAt = new Date(await env.currentTimeMs());
  await orm.em.fork().execute(
    `insert into care_home_case (id, applicant_id, district_code, status, applied_at, created_by, idempotency_key)
     values (?, ?, ?, 'checking_eligibility', ?, ?, ?)`,
    [caseId, opts.applicantId, opts.districtCode, appliedAt, opts.applicantId, caseId],
  );
  const input: CareHomeWorkflowInput = {
    caseId,
    applicantId: opts.applicantId,
    districtCode: opts.districtCode,
    appliedAt: appliedAt.toISOString(),
    settings: { policy: { ...defaultPolicy, ...opts.policy }, minuteMs: 60_000 },
  };
  const handle = await env.client.workflow.start(careHomeWorkflow, {
    taskQueue,
    workflowId: careHomeWorkflowId(caseId),
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: CASE_KIND, value: 'care_home' },
      { key: DISTRICT_CODE, value: opts.districtCode },
    ]),
  });
  return { caseId, handle, input };
}

/** Creates a care home with `beds` beds in a district and returns its id and bed ids. */
export async function createCareHomeWithBeds(orm: MikroORM, districtCode: string, beds: number) {
  const id = randomUUID();
  await insertCareHome(orm.em.fork(), { id, districtCode, name: `养老院-${id.slice(0, 8)}`, createdBy: randomUUID() });
  const labels = Array.from({ length: beds }, (_, i) => `${i + 1}`);
  const bedIds = await insertBeds(orm.em.fork(), id, labels);
  return { id, bedIds };
}

/** Signals every case of the district waiting for a bed, as the API does after staff change beds. */
export async function signalWaitingCases(env: TestWorkflowEnvironment, orm: MikroORM, districtCode: string) {
  for (const id of await waitingCaseIds(orm.em.fork(), districtCode)) {
    await env.client.workflow.getHandle(careHomeWorkflowId(id)).signal(bedsChanged);
  }
}

let personSequence = 0;

/**
 * Inserts a person with a personal account straight into the database. The
 * resident ID and phone go to the plain-text columns that the startup step
 * seals, whichever of the two person schemas the database has.
 */
export async function insertCasePerson(
  orm: MikroORM,
  opts: { districtCode?: string; streetCode?: string; birthDate?: string; insurance?: 'registry' | 'organisation' | 'none' } = {},
): Promise<{ id: string }> {
  personSequence += 1;
  const id = randomUUID();
  const em = orm.em.fork();
  const columns = await em.execute<Array<{ column_name: string }>>(
    `select column_name from information_schema.columns where table_name = 'person'`,
  );
  const names = new Set(columns.map((c) => c.column_name));
  const sealed = names.has('resident_id_plain');
  const insurance = opts.insurance ?? 'registry';
  const extra: Record<string, unknown> = {};
  if (insurance === 'organisation' && names.has('insurance_confirmed_by')) {
    extra.insurance_confirmed_by = '测试志愿服务队';
    extra.insurance_confirmed_on = '2024-01-01';
  }
  const fields: Record<string, unknown> = {
    id,
    [sealed ? 'resident_id_plain' : 'resident_id']: makeResidentId('110105', opts.birthDate ?? '1950-03-01', personSequence % 1000),
    name: '测试',
    [sealed ? 'phone_plain' : 'phone']: `171${String(10_000_000 + personSequence).slice(0, 8)}`,
    birth_date: opts.birthDate ?? '1950-03-01',
    district_code: opts.districtCode ?? '110105',
    street_code: opts.streetCode ?? '110105001',
    address: '测试路1号',
    is_elder: true,
    is_volunteer: true,
    insurance,
    trained_on: '2024-01-01',
    ...extra,
  };
  const keys = Object.keys(fields);
  await em.execute(
    `insert into person (${keys.join(', ')}) values (${keys.map(() => '?').join(', ')})`,
    keys.map((k) => fields[k]),
  );
  await em.execute(`insert into account (id, kind, person_id) values (?, 'personal', ?)`, [personalAccountId(id), id]);
  return { id };
}

/**
 * Inserts an order whose service is recorded (signed in and out, settled) and
 * a claim for an accident during it, then starts the claim workflow as the API does.
 */
export async function startAccidentClaim(
  env: TestWorkflowEnvironment,
  orm: MikroORM,
  taskQueue: string,
  opts: { volunteerId: string; elderId: string; districtCode?: string; policy?: Partial<Policy> },
) {
  const em = orm.em.fork();
  const orderId = randomUUID();
  const claimId = randomUUID();
  const now = await env.currentTimeMs();
  const signedIn = new Date(now - 3 * 60 * 60_000);
  const signedOut = new Date(signedIn.getTime() + 75 * 60_000);
  await em.execute(
    `insert into service_order (id, elder_id, district_code, street_code, category, description, address,
       scheduled_start, booked_minutes, status, volunteer_id, signed_in_at, signed_out_at, served_minutes, settled_minutes,
       created_by, idempotency_key, request_hash)
     values (?, ?, '110105', '110105001', 'outing_companionship', '陪同就医', '测试路1号', ?, 60, 'settled', ?, ?, ?, 60, 60, ?, ?, 'h')`,
    [orderId, opts.elderId, signedIn, opts.volunteerId, signedIn, signedOut, opts.elderId, orderId],
  );
  await em.execute(
    `insert into accident_claim (id, order_id, volunteer_id, district_code, injured_at, description, status, reported_at,
       created_by, idempotency_key)
     values (?, ?, ?, ?, ?, '返程途中摔倒，手腕扭伤', 'checking_coverage', ?, ?, ?)`,
    [claimId, orderId, opts.volunteerId, opts.districtCode ?? '110105', signedOut, new Date(now), opts.volunteerId, claimId],
  );
  const input: AccidentClaimWorkflowInput = {
    claimId,
    orderId,
    volunteerId: opts.volunteerId,
    districtCode: opts.districtCode ?? '110105',
    reportedAt: new Date(now).toISOString(),
    settings: { policy: { ...defaultPolicy, ...opts.policy }, minuteMs: 60_000 },
  };
  const handle = await env.client.workflow.start(accidentClaimWorkflow, {
    taskQueue,
    workflowId: accidentClaimWorkflowId(claimId),
    args: [input],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: CASE_KIND, value: 'accident_claim' },
      { key: DISTRICT_CODE, value: input.districtCode },
    ]),
  });
  return { claimId, orderId, handle, input };
}
