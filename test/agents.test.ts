import { randomUUID } from 'node:crypto';
import { getOrderState } from '../workflows/order';
import { orderWorkflowId } from '../domain/order';
import { makeResidentId } from '../domain/resident-id';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  DISTRICT,
  expectProblem,
  LONG_LEAD_MINUTES,
  Member,
  newElder,
  newIdempotencyKey,
  newVolunteer,
  orderBody,
  OTHER_DISTRICT,
  OTHER_STREET,
  staffTokens,
  STREET,
  Tokens,
} from './support/api-fixtures';

/*
 * A street office confirms the institutions of its district. Their agents
 * sign in with a password and act for a person only while that person
 * consents to the institution. Every change they make records both the agent
 * and the person acted for.
 */

let api: ApiEnv;
let tokens: Tokens;
let reviewerId: string;
let reviewer: string;
let institutionId: string;
let agentId: string;
let agentToken: string;
let elder: Member;

const AGENT_PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  reviewerId = randomUUID();
  reviewer = await api.token({ sub: reviewerId, role: 'street_reviewer', district: DISTRICT });
  elder = await newElder(api, 600, { consent: false });
});

afterAll(async () => {
  await api?.stop();
});

const onBehalfOf = (personId: string) => ({ 'On-Behalf-Of': personId });

describe('institution', () => {
  test('reviewer confirms own district', async () => {
    const res = await api.call('POST', '/v1/institutions', { token: reviewer, body: { name: '朝阳为老服务中心', streetCode: STREET } });

    expect(res.status).toBe(201);
    expect(res.body.districtCode).toBe(DISTRICT);
    expect(res.body.confirmedBy).toBe(reviewerId);
    institutionId = res.body.id;
  });

  test('other district refused', async () => {
    const res = await api.call('POST', '/v1/institutions', { token: tokens.otherReviewer, body: { name: '机构', streetCode: STREET } });

    expectProblem(res, 403, 'FORBIDDEN');
  });

  test('officer refused', async () => {
    const res = await api.call('POST', '/v1/institutions', { token: tokens.officer, body: { name: '机构', streetCode: STREET } });

    expectProblem(res, 403, 'FORBIDDEN');
  });

  test('unknown street named', async () => {
    const res = await api.call('POST', '/v1/institutions', { token: reviewer, body: { name: '机构', streetCode: '110105999' } });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.streetCode');
  });

  test('blank name named', async () => {
    const res = await api.call('POST', '/v1/institutions', { token: reviewer, body: { name: ' ', streetCode: STREET } });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.name');
  });

  test('own district reads it', async () => {
    const res = await api.call('GET', `/v1/institutions/${institutionId}`, { token: tokens.officer });

    expect(res.status).toBe(200);
    expect(res.body.name).toBe('朝阳为老服务中心');
  });

  test('other district gets 404', async () => {
    const res = await api.call('GET', `/v1/institutions/${institutionId}`, { token: tokens.otherOfficer });

    expectProblem(res, 404, 'INSTITUTION_NOT_FOUND');
  });
});

describe('agent account', () => {
  test('reviewer creates agent', async () => {
    const res = await api.call('POST', `/v1/institutions/${institutionId}/agents`, {
      token: reviewer,
      body: { name: '王五', login: 'wang.wu', password: AGENT_PASSWORD },
    });

    expect(res.status).toBe(201);
    expect(res.body.institutionId).toBe(institutionId);
    expect(res.body.password).toBeUndefined();
    agentId = res.body.id;
  });

  test('login taken named', async () => {
    const res = await api.call('POST', `/v1/institutions/${institutionId}/agents`, {
      token: reviewer,
      body: { name: '王六', login: 'wang.wu', password: AGENT_PASSWORD },
    });

    expectProblem(res, 409, 'LOGIN_TAKEN', 'body.login');
  });

  test('short password named', async () => {
    const res = await api.call('POST', `/v1/institutions/${institutionId}/agents`, {
      token: reviewer,
      body: { name: '王七', login: 'wang.qi', password: 'short' },
    });

    expectProblem(res, 400, 'VALIDATION_FAILED', 'body.password');
  });

  test('other district gets 404', async () => {
    const res = await api.call('POST', `/v1/institutions/${institutionId}/agents`, {
      token: tokens.otherReviewer,
      body: { name: '王八', login: 'wang.ba', password: AGENT_PASSWORD },
    });

    expectProblem(res, 404, 'INSTITUTION_NOT_FOUND');
  });

  test('agent signs in', async () => {
    const res = await api.call('POST', '/v1/staff/sessions', { body: { login: 'wang.wu', password: AGENT_PASSWORD } });

    expect(res.status).toBe(201);
    expect(res.body.role).toBe('agent');
    expect(res.body.staffId).toBe(agentId);
    agentToken = res.body.accessToken;
  });

  test('agent reads own institution', async () => {
    const res = await api.call('GET', `/v1/institutions/${institutionId}`, { token: agentToken });

    expect(res.status).toBe(200);
  });
});

describe('consent', () => {
  test('agent without consent refused', async () => {
    const res = await api.call('GET', `/v1/persons/${elder.id}`, { token: agentToken, headers: onBehalfOf(elder.id) });

    expectProblem(res, 403, 'AGENT_CONSENT_MISSING');
  });

  test('order without consent refused', async () => {
    const res = await api.call('POST', '/v1/orders', {
      token: agentToken,
      body: orderBody(LONG_LEAD_MINUTES),
      headers: { ...onBehalfOf(elder.id), 'Idempotency-Key': newIdempotencyKey() },
    });

    expectProblem(res, 403, 'AGENT_CONSENT_MISSING');
  });

  test('person grants consent', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: elder.token, body: { institutionId } });

    expect(res.status).toBe(201);
    expect(res.body.grantedBy).toBe(elder.id);
    expect(res.body.grantedByRole).toBe('elder');
  });

  test('second grant returns first', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: elder.token, body: { institutionId } });

    expect(res.status).toBe(200);
    expect(res.body.grantedBy).toBe(elder.id);
  });

  test('agent reads person', async () => {
    const res = await api.call('GET', `/v1/persons/${elder.id}`, { token: agentToken, headers: onBehalfOf(elder.id) });

    expect(res.status).toBe(200);
    expect(res.body.phone).toMatch(/^\d{3}\*{4}\d{4}$/);
  });

  test('other person cannot grant', async () => {
    const stranger = await newElder(api, 0, { consent: false });

    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: stranger.token, body: { institutionId } });

    expectProblem(res, 404, 'PERSON_NOT_FOUND');
  });

  test('other district staff cannot grant', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: tokens.otherReviewer, body: { institutionId } });

    expectProblem(res, 404, 'PERSON_NOT_FOUND');
  });

  test('unknown institution named', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: elder.token, body: { institutionId: randomUUID() } });

    expectProblem(res, 404, 'INSTITUTION_NOT_FOUND', 'body.institutionId');
  });

  test('staff grants for person', async () => {
    const other = await newElder(api, 0, { consent: false });

    const res = await api.call('POST', `/v1/persons/${other.id}/consents`, { token: tokens.reviewer, body: { institutionId } });

    expect(res.status).toBe(201);
    expect(res.body.grantedByRole).toBe('street_reviewer');
  });
});

describe('acting for a person', () => {
  let orderId: string;

  test('order records agent', async () => {
    const res = await api.call('POST', '/v1/orders', {
      token: agentToken,
      body: orderBody(LONG_LEAD_MINUTES),
      headers: { ...onBehalfOf(elder.id), 'Idempotency-Key': newIdempotencyKey() },
    });

    expect(res.status).toBe(201);
    orderId = res.body.id;
    const [row] = await api.db.orm.em
      .fork()
      .execute<Array<{ elder_id: string; acting_agent_id: string; created_by: string }>>(
        `select elder_id, acting_agent_id, created_by from service_order where id = ?`,
        [orderId],
      );
    expect(row.elder_id).toBe(elder.id);
    expect(row.acting_agent_id).toBe(agentId);
    expect(row.created_by).toBe(agentId);
  });

  test('workflow event records both', async () => {
    const res = await api.call('POST', `/v1/orders/${orderId}/cancel`, {
      token: agentToken,
      body: { reason: '老人临时有事' },
      headers: onBehalfOf(elder.id),
    });
    expect(res.status).toBe(200);

    const state = await api.system.temporal.workflow.getHandle(orderWorkflowId(orderId)).query(getOrderState);

    const cancelled = state.events.find((e) => e.event.startsWith('cancelled'));
    expect(cancelled?.actorId).toBe(agentId);
    expect(cancelled?.onBehalfOf).toBe(elder.id);
  });

  test('registration records agent', async () => {
    const res = await api.call('POST', '/v1/elders', {
      token: agentToken,
      body: {
        residentId: makeResidentId(DISTRICT, '1945-03-03', 2),
        name: '赵六',
        phone: '17799990001',
        streetCode: STREET,
        address: '朝阳区某路3号',
      },
    });

    expect(res.status).toBe(201);
    const [row] = await api.db.orm.em
      .fork()
      .execute<Array<{ registered_by: string }>>(`select registered_by from person where id = ?`, [res.body.id]);
    expect(row.registered_by).toBe(agentId);
  });

  test('agent registers only in own district', async () => {
    const res = await api.call('POST', '/v1/elders', {
      token: agentToken,
      body: { residentId: makeResidentId(OTHER_DISTRICT, '1945-03-03', 2), name: '钱七', phone: '17799990002', streetCode: OTHER_STREET, address: '海淀区某路' },
    });

    expectProblem(res, 403, 'FORBIDDEN');
  });
});

describe('revocation', () => {
  test('staff revokes consent', async () => {
    const res = await api.call('DELETE', `/v1/persons/${elder.id}/consents/${institutionId}`, { token: tokens.reviewer });

    expect(res.status).toBe(200);
    expect(res.body.revokedAt).toBeDefined();
  });

  test('agent refused after revocation', async () => {
    const res = await api.call('GET', `/v1/persons/${elder.id}`, { token: agentToken, headers: onBehalfOf(elder.id) });

    expectProblem(res, 403, 'AGENT_CONSENT_MISSING');
  });

  test('second revocation 404', async () => {
    const res = await api.call('DELETE', `/v1/persons/${elder.id}/consents/${institutionId}`, { token: elder.token });

    expectProblem(res, 404, 'CONSENT_NOT_FOUND');
  });

  test('consent granted again', async () => {
    const res = await api.call('POST', `/v1/persons/${elder.id}/consents`, { token: elder.token, body: { institutionId } });

    expect(res.status).toBe(201);
  });
});

describe('acting for a volunteer', () => {
  let volunteer: Member;
  let orderId: string;
  const forVolunteer = () => ({ 'On-Behalf-Of': volunteer.id });

  beforeAll(async () => {
    volunteer = await newVolunteer(api);
    const owner = await newElder(api);
    const res = await api.call('POST', '/v1/orders', {
      token: owner.token,
      body: orderBody(LONG_LEAD_MINUTES),
      headers: { 'Idempotency-Key': newIdempotencyKey() },
    });
    expect(res.status).toBe(201);
    orderId = res.body.id;
    const review = await api.call('POST', `/v1/orders/${orderId}/review`, { token: tokens.reviewer, body: { decision: 'approve' } });
    expect(review.status).toBe(200);
  });

  test('open list includes order', async () => {
    const res = await api.call('GET', '/v1/orders?view=open', { token: tokens.agent, headers: forVolunteer() });

    expect(res.status).toBe(200);
    expect(res.body.items.map((o: { id: string }) => o.id)).toContain(orderId);
  });

  test('open order hides address', async () => {
    const res = await api.call('GET', `/v1/orders/${orderId}`, { token: tokens.agent, headers: forVolunteer() });

    expect(res.status).toBe(200);
    expect(res.body.address).toBeUndefined();
  });

  test('accepted order shows address', async () => {
    const accept = await api.call('POST', `/v1/orders/${orderId}/accept`, { token: tokens.agent, body: {}, headers: forVolunteer() });
    expect(accept.status).toBe(200);

    const res = await api.call('GET', `/v1/orders/${orderId}`, { token: tokens.agent, headers: forVolunteer() });

    expect(res.body.volunteerId).toBe(volunteer.id);
    expect(res.body.address).toBe('朝阳区测试路1号');
  });

  test('elder view hides open orders', async () => {
    const consenting = await newElder(api);

    const res = await api.call('GET', '/v1/orders?view=open', { token: tokens.agent, headers: onBehalfOf(consenting.id) });

    expect(res.status).toBe(200);
    expect(res.body.total).toBe(0);
  });
});

describe('agent accounts', () => {
  test('unregistered agent refused', async () => {
    const token = await api.token({ sub: randomUUID(), role: 'agent' });

    const res = await api.call('GET', '/v1/orders', { token, headers: onBehalfOf(elder.id) });

    expectProblem(res, 403, 'AGENT_NOT_REGISTERED');
  });

  test('disabled agent refused', async () => {
    await api.db.orm.em.fork().execute(`update staff set disabled_at = now() where id = ?`, [agentId]);

    const res = await api.call('GET', '/v1/orders', { token: agentToken, headers: onBehalfOf(elder.id) });

    expectProblem(res, 403, 'AGENT_NOT_REGISTERED');
  });

  test('institution of other district invisible', async () => {
    const res = await api.call('POST', '/v1/institutions', {
      token: tokens.otherReviewer,
      body: { name: '海淀为老服务中心', streetCode: OTHER_STREET },
    });
    expect(res.status).toBe(201);
    expect(res.body.districtCode).toBe(OTHER_DISTRICT);

    const read = await api.call('GET', `/v1/institutions/${res.body.id}`, { token: tokens.reviewer });

    expectProblem(read, 404, 'INSTITUTION_NOT_FOUND');
  });
});
