import { randomUUID } from 'node:crypto';
import { FORBIDDEN_PERSONAL_FIELDS } from '../api/schemas';
import { shanghaiCalendarDate } from '../domain/resident-id';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  expectProblem,
  LONG_LEAD_MINUTES,
  Member,
  newElder,
  MINUTE_MS,
  newIdempotencyKey,
  newVolunteer,
  orderBody,
  OTHER_STREET,
  registrationBody,
  staffTokens,
  step,
  Tokens,
  volunteerBody,
} from './support/api-fixtures';
import { insertPerson } from './support/fixtures';

/*
 * Who may register: elders from 60, volunteers from 18 with a training
 * record, students under 18 only with a registered adult volunteer as
 * guardian, one person per ID number, insurance confirmed by the registry or
 * by a named organisation on a date, and never a forbidden data field.
 * A student accepts an order only together with a guardian who is free then.
 */

let api: ApiEnv;
let tokens: Tokens;

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
});

afterAll(async () => {
  await api?.stop();
});

/** The Asia/Shanghai date `years` years before today, shifted by `days`, as YYYY-MM-DD. */
function bornYearsAgo(years: number, days = 0): string {
  const today = shanghaiCalendarDate(new Date());
  const date = new Date(Date.UTC(today.year - years, today.month - 1, today.day + days));
  return date.toISOString().slice(0, 10);
}

const TODAY = bornYearsAgo(0);
const TOMORROW = bornYearsAgo(0, 1);

const registerElder = (body: Record<string, unknown>) => api.call('POST', '/v1/elders', { token: tokens.reviewer, body });
const registerVolunteer = (body: Record<string, unknown>) => api.call('POST', '/v1/volunteers', { token: tokens.reviewer, body });

describe('elder age', () => {
  test('60 today accepted', async () => {
    const res = await registerElder(registrationBody(bornYearsAgo(60)));

    expect(res.status).toBe(201);
    expect(res.body.roles).toEqual(['elder']);
  });

  test('60 tomorrow refused', async () => {
    const res = await registerElder(registrationBody(bornYearsAgo(60, 1)));

    expectProblem(res, 422, 'TOO_YOUNG', 'body.residentId');
  });
});

describe('volunteer age and training', () => {
  test('18 today accepted', async () => {
    const res = await registerVolunteer(volunteerBody(bornYearsAgo(18)));

    expect(res.status).toBe(201);
    expect(res.body.trainedOn).toBe('2024-05-01');
    expect(res.body.guardianId).toBeUndefined();
  });

  test('missing training record refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1990-01-01'), trainedOn: undefined });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.trainedOn');
  });

  test('training in future refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1990-01-01'), trainedOn: TOMORROW });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.trainedOn');
  });

  test('training today accepted', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1990-01-02'), trainedOn: TODAY });

    expect(res.status).toBe(201);
  });

  test('training before birth refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('2000-01-01'), trainedOn: '1999-12-31' });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.trainedOn');
  });

  test('fitness not declared refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1990-01-03'), fitnessDeclared: undefined });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.fitnessDeclared');
  });

  test('adult with guardian refused', async () => {
    const guardian = await newVolunteer(api);

    const res = await registerVolunteer({ ...volunteerBody('1990-01-04'), guardianId: guardian.id });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.guardianId');
  });
});

describe('student volunteer', () => {
  let guardian: Member;

  beforeAll(async () => {
    guardian = await newVolunteer(api);
  });

  test('with adult guardian accepted', async () => {
    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(15)), guardianId: guardian.id });

    expect(res.status).toBe(201);
    expect(res.body.guardianId).toBe(guardian.id);
    expect(res.body.roles).toEqual(['volunteer']);
  });

  test('18 tomorrow needs guardian', async () => {
    const res = await registerVolunteer(volunteerBody(bornYearsAgo(18, 1)));

    expectProblem(res, 422, 'TOO_YOUNG', 'body.guardianId');
  });

  test('without guardian refused', async () => {
    const res = await registerVolunteer(volunteerBody(bornYearsAgo(15)));

    expectProblem(res, 422, 'TOO_YOUNG', 'body.guardianId');
  });

  test('below student age refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(11)), guardianId: guardian.id });

    expectProblem(res, 422, 'TOO_YOUNG', 'body.residentId');
  });

  test('unknown guardian refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(15)), guardianId: randomUUID() });

    expectProblem(res, 422, 'GUARDIAN_INVALID', 'body.guardianId');
  });

  test('elder guardian refused', async () => {
    const elder = await newElder(api, 0);

    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(15)), guardianId: elder.id });

    expectProblem(res, 422, 'GUARDIAN_INVALID', 'body.guardianId');
  });

  test('suspended guardian refused', async () => {
    const suspended = await insertPerson(api.db.orm, { volunteer: true });
    await api.db.orm.em.fork().execute(`update person set volunteer_status = 'suspended' where id = ?`, [suspended.id]);

    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(15)), guardianId: suspended.id });

    expectProblem(res, 422, 'GUARDIAN_INVALID', 'body.guardianId');
  });

  test('minor guardian refused', async () => {
    const minor = await insertPerson(api.db.orm, { volunteer: true, birthDate: bornYearsAgo(16), guardianId: guardian.id });

    const res = await registerVolunteer({ ...volunteerBody(bornYearsAgo(15)), guardianId: minor.id });

    expectProblem(res, 422, 'GUARDIAN_INVALID', 'body.guardianId');
  });
});

describe('student acceptance', () => {
  let guardian: Member;
  let student: Member;
  let guardianOrderId: string;
  let accompaniedOrderId: string;
  let accompaniedStart: number;

  beforeAll(async () => {
    guardian = await newVolunteer(api);
    const person = await insertPerson(api.db.orm, { volunteer: true, birthDate: bornYearsAgo(15), guardianId: guardian.id });
    student = { id: person.id, token: await api.token({ sub: person.id, role: 'volunteer' }) };
  });

  /** An approved order starting at `startMs`; orders with one start overlap, as each lasts 0.3 s here. */
  async function openOrder(startMs: number): Promise<string> {
    const elder = await newElder(api);
    const res = await api.call('POST', '/v1/orders', {
      token: elder.token,
      body: { ...orderBody(LONG_LEAD_MINUTES), scheduledStart: new Date(startMs).toISOString() },
      headers: { 'Idempotency-Key': newIdempotencyKey('student') },
    });
    expect(res.status).toBe(201);
    await step(api, res.body.id, 'review', tokens.reviewer, { decision: 'approve' }, 'open');
    return res.body.id;
  }

  const startIn = (leadMinutes: number) => Date.now() + leadMinutes * MINUTE_MS;

  test('without guardian flag refused', async () => {
    const orderId = await openOrder(startIn(LONG_LEAD_MINUTES));

    const res = await api.call('POST', `/v1/orders/${orderId}/accept`, { token: student.token, body: {} });

    expectProblem(res, 409, 'GUARDIAN_REQUIRED');
  });

  test('guardian flag false refused', async () => {
    const orderId = await openOrder(startIn(LONG_LEAD_MINUTES));

    const res = await api.call('POST', `/v1/orders/${orderId}/accept`, { token: student.token, body: { withGuardian: false } });

    expectProblem(res, 409, 'GUARDIAN_REQUIRED');
  });

  test('busy guardian refused', async () => {
    const start = startIn(LONG_LEAD_MINUTES + 2_000);
    guardianOrderId = await openOrder(start);
    await step(api, guardianOrderId, 'accept', guardian.token, {}, 'matched');
    const overlapping = await openOrder(start);

    const res = await api.call('POST', `/v1/orders/${overlapping}/accept`, { token: student.token, body: { withGuardian: true } });

    expectProblem(res, 409, 'GUARDIAN_BUSY');
  });

  test('free guardian accepted', async () => {
    accompaniedStart = startIn(LONG_LEAD_MINUTES + 4_000);
    accompaniedOrderId = await openOrder(accompaniedStart);

    const res = await api.call('POST', `/v1/orders/${accompaniedOrderId}/accept`, {
      token: student.token,
      body: { withGuardian: true },
    });

    expect(res.status).toBe(200);
    expect(res.body.status).toBe('matched');
    expect(res.body.volunteerId).toBe(student.id);
  });

  test('guardian time booked', async () => {
    const rows = await api.db.orm.em
      .fork()
      .execute<Array<{ volunteer_id: string; role: string }>>(
        `select volunteer_id, role from volunteer_slot where order_id = ? order by role`,
        [accompaniedOrderId],
      );

    expect(rows).toEqual([
      { volunteer_id: guardian.id, role: 'guardian' },
      { volunteer_id: student.id, role: 'volunteer' },
    ]);
  });

  test('booked guardian cannot overlap', async () => {
    const overlapping = await openOrder(accompaniedStart);

    const res = await api.call('POST', `/v1/orders/${overlapping}/accept`, { token: guardian.token, body: {} });

    expectProblem(res, 409, 'VOLUNTEER_OVERLAP');
  });

  test('withdrawal frees guardian', async () => {
    await step(api, accompaniedOrderId, 'withdraw', student.token, {}, 'open');
    const overlapping = await openOrder(accompaniedStart);

    const res = await api.call('POST', `/v1/orders/${overlapping}/accept`, { token: guardian.token, body: {} });

    expect(res.status).toBe(200);
  });

  test('guardian reads student record', async () => {
    const res = await api.call('GET', `/v1/persons/${student.id}`, { token: guardian.token });

    expect(res.status).toBe(200);
    expect(res.body.guardianId).toBe(guardian.id);
  });

  test('other volunteer cannot read student', async () => {
    const other = await newVolunteer(api);

    const res = await api.call('GET', `/v1/persons/${student.id}`, { token: other.token });

    expectProblem(res, 404, 'PERSON_NOT_FOUND');
  });

  test('adult needs no flag', async () => {
    const orderId = await openOrder(startIn(LONG_LEAD_MINUTES + 6_000));
    const adult = await newVolunteer(api);

    const res = await api.call('POST', `/v1/orders/${orderId}/accept`, { token: adult.token, body: {} });

    expect(res.status).toBe(200);
    expect(res.body.status).toBe('matched');
  });

  test('flag not boolean named', async () => {
    const res = await api.call('POST', `/v1/orders/${guardianOrderId}/accept`, { token: student.token, body: { withGuardian: 'yes' } });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.withGuardian');
  });
});

describe('one person per ID number', () => {
  test('volunteer becomes elder too', async () => {
    const body = volunteerBody('1950-06-06');
    const volunteer = await registerVolunteer(body);
    expect(volunteer.status).toBe(201);

    const elder = await registerElder({ ...registrationBody('1950-06-06'), residentId: body.residentId });

    expect(elder.status).toBe(201);
    expect(elder.body.id).toBe(volunteer.body.id);
    expect(elder.body.roles).toEqual(['elder', 'volunteer']);
  });

  test('elder becomes volunteer too', async () => {
    const body = registrationBody('1951-07-07');
    const elder = await registerElder(body);
    expect(elder.status).toBe(201);

    const volunteer = await registerVolunteer({ ...volunteerBody('1951-07-07'), residentId: body.residentId });

    expect(volunteer.status).toBe(201);
    expect(volunteer.body.id).toBe(elder.body.id);
    expect(volunteer.body.roles).toEqual(['elder', 'volunteer']);
  });

  test('same role twice refused', async () => {
    const body = volunteerBody('1985-08-08');
    expect((await registerVolunteer(body)).status).toBe(201);

    const again = await registerVolunteer({ ...body, phone: '13700001111' });

    expectProblem(again, 409, 'RESIDENT_ID_TAKEN');
  });

  test('concurrent registrations, one person', async () => {
    const body = registrationBody('1953-10-10');

    const results = await Promise.all([registerElder(body), registerElder(body), registerElder(body)]);

    const statusCodes = results.map((res) => res.status).sort();
    expect(statusCodes).toEqual([201, 409, 409]);
    expect(results.filter((res) => res.status === 409).map((res) => res.body.code)).toEqual(['RESIDENT_ID_TAKEN', 'RESIDENT_ID_TAKEN']);
  });

  test('one row per ID number', async () => {
    const body = registrationBody('1952-09-09');
    await registerElder(body);
    await registerVolunteer({ ...volunteerBody('1952-09-09'), residentId: body.residentId });

    const [{ count }] = await api.db.orm.em
      .fork()
      .execute<Array<{ count: string }>>(`select count(*) as count from person where resident_id_hash = ?`, [
        api.system.personalData.lookupHash('residentId', body.residentId as string),
      ]);

    expect(Number(count)).toBe(1);
  });
});

describe('insurance', () => {
  test('registry accepted', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1988-01-01'), insurance: 'registry' });

    expect(res.status).toBe(201);
    expect(res.body.insurance).toBe('registry');
  });

  test('organisation with confirmation accepted', async () => {
    const res = await registerVolunteer({
      ...volunteerBody('1988-01-02'),
      insurance: 'organisation',
      insuranceConfirmedBy: '朝阳区志愿者协会',
      insuranceConfirmedOn: '2025-03-01',
    });

    expect(res.status).toBe(201);
    expect(res.body.insurance).toBe('organisation');
    expect(res.body.insuranceConfirmedBy).toBe('朝阳区志愿者协会');
    expect(res.body.insuranceConfirmedOn).toBe('2025-03-01');
  });

  test('organisation without confirmer refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1988-01-03'), insurance: 'organisation', insuranceConfirmedOn: '2025-03-01' });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.insuranceConfirmedBy');
  });

  test('organisation without date refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1988-01-04'), insurance: 'organisation', insuranceConfirmedBy: '协会' });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.insuranceConfirmedOn');
  });

  test('confirmation in future refused', async () => {
    const res = await registerVolunteer({
      ...volunteerBody('1988-01-05'),
      insurance: 'organisation',
      insuranceConfirmedBy: '协会',
      insuranceConfirmedOn: TOMORROW,
    });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.insuranceConfirmedOn');
  });

  test('confirmer without organisation refused', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1988-01-06'), insurance: 'registry', insuranceConfirmedBy: '协会' });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.insuranceConfirmedBy');
  });

  test('no insurance registers uninsured', async () => {
    const res = await registerVolunteer({ ...volunteerBody('1988-01-07'), insurance: undefined });

    expect(res.status).toBe(201);
    expect(res.body.insurance).toBe('none');
  });

  test('database refuses unconfirmed organisation', async () => {
    const person = await insertPerson(api.db.orm, { volunteer: true });

    const update = api.db.orm.em
      .fork()
      .execute(`update person set insurance = 'organisation', insurance_confirmed_by = null where id = ?`, [person.id]);

    await expect(update).rejects.toThrow(/person_insurance_confirmed/);
  });
});

describe('forbidden data fields', () => {
  test.each(FORBIDDEN_PERSONAL_FIELDS.map((field) => ({ field })))('elder $field refused', async ({ field }) => {
    const res = await registerElder({ ...registrationBody('1949-02-02'), [field]: '无' });

    expectProblem(res, 400, 'VALIDATION_FAILED', `body.${field}`);
  });

  test.each(FORBIDDEN_PERSONAL_FIELDS.map((field) => ({ field })))('volunteer $field refused', async ({ field }) => {
    const res = await registerVolunteer({ ...volunteerBody('1989-02-02'), [field]: '无' });

    expectProblem(res, 400, 'VALIDATION_FAILED', `body.${field}`);
  });

  test('message names the rule', async () => {
    const res = await registerElder({ ...registrationBody('1949-02-03'), bloodType: 'O' });

    expect(res.body.detail).toMatch(/宗教、病史、血型、指纹或基因/);
  });
});

describe('fields clients never set', () => {
  test.each([
    { kind: 'elders', field: 'servedMinutes', value: 600 },
    { kind: 'elders', field: 'roles', value: ['elder', 'volunteer'] },
    { kind: 'elders', field: 'guardianId', value: randomUUID() },
    { kind: 'volunteers', field: 'volunteerStatus', value: 'active' },
    { kind: 'volunteers', field: 'registeredBy', value: randomUUID() },
    { kind: 'volunteers', field: 'id', value: randomUUID() },
  ] as const)('$kind $field refused', async ({ kind, field, value }) => {
    const body = kind === 'elders' ? registrationBody('1949-04-04') : volunteerBody('1989-04-04');

    const res = await api.call('POST', `/v1/${kind}`, { token: tokens.reviewer, body: { ...body, [field]: value } });

    expectProblem(res, 400, 'VALIDATION_FAILED', `body.${field}`);
  });
});

describe('agent registration', () => {
  test('own district accepted', async () => {
    const res = await api.call('POST', '/v1/elders', { token: tokens.agent, body: registrationBody('1948-03-03') });

    expect(res.status).toBe(201);
  });

  test('other district refused', async () => {
    const res = await api.call('POST', '/v1/elders', { token: tokens.agent, body: registrationBody('1948-03-04', OTHER_STREET) });

    expectProblem(res, 403, 'FORBIDDEN');
  });
});
