import { randomUUID } from 'node:crypto';
import { postTransfer } from '../db/ledger';
import { grantAccountId, personalAccountId } from '../db/reference';
import { createStaffAccount } from '../db/staff';
import { ApiEnv, startApiEnv } from './support/api-env';
import {
  API_ENV,
  DISTRICT,
  Member,
  newElder,
  newIdempotencyKey,
  newVolunteer,
  orderBody,
  orderIn,
  placeOrder,
  registrationBody,
  SHORT_LEAD_MINUTES,
  staffTokens,
  step,
  STREET,
  testInstitution,
  Tokens,
  volunteerBody,
  waitForSignInWindow,
  LONG_LEAD_MINUTES,
} from './support/api-fixtures';
import { insertPerson } from './support/fixtures';
import { listRoutes } from './support/routes';

/*
 * Every route of the application × every kind of caller, with the exact
 * status each must get. The route list comes from the express router, so a
 * new route without a row here fails the coverage test. A caller allowed to
 * change something acts on a fresh object, so one success cannot change the
 * state the next caller gets.
 */

const CALLERS = [
  'anonymous',
  'elder',
  'otherElder',
  'volunteer',
  'otherVolunteer',
  'guardian',
  'agent',
  'agentNoConsent',
  'reviewer',
  'otherReviewer',
  'officer',
  'otherOfficer',
  'admin',
  'operator',
] as const;
type Caller = (typeof CALLERS)[number];

type TargetKind =
  | 'person'
  | 'pending_review'
  | 'open'
  | 'matched'
  | 'signInReady'
  | 'in_service'
  | 'awaiting_rating'
  | 'disputed'
  | 'relationship'
  | 'relative'
  | 'reversible';

/** The object a request is about: its elder, its volunteer and the ids the path or body need. */
interface Target {
  elder: Member;
  volunteer: Member;
  orderId?: string;
  relationshipId?: string;
  relativeId?: string;
  transferId?: string;
}

interface Request {
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

interface Row {
  target: TargetKind;
  /** The target of successful calls when it differs (sign-in needs an open sign-in window). */
  freshTarget?: TargetKind;
  /** True when a successful call changes the target, so each one gets a fresh target. */
  mutating?: boolean;
  /** The person an agent acts for; the target's elder unless set. */
  agentFor?: 'elder' | 'volunteer';
  request: (t: Target) => Request;
  expected: Record<Caller, number>;
}

/** Expected statuses: `base` for every caller, 401 without a token, 403 for an agent without consent, then the exceptions. */
function statuses(base: number, exceptions: Partial<Record<Caller, number>> = {}): Record<Caller, number> {
  const all = Object.fromEntries(CALLERS.map((caller) => [caller, base])) as Record<Caller, number>;
  return { ...all, anonymous: 401, agentNoConsent: 403, ...exceptions };
}

/** Every caller gets `status`, with or without a token. */
function publicRoute(status: number): Record<Caller, number> {
  return Object.fromEntries(CALLERS.map((caller) => [caller, status])) as Record<Caller, number>;
}

const STAFF_OK = { reviewer: 200, officer: 200, admin: 200 } as const;
const OTHER_DISTRICT_404 = { otherReviewer: 404, otherOfficer: 404 } as const;
const OPS_ONLY = statuses(403, { operator: 200, admin: 200 });
const keyed = () => ({ 'Idempotency-Key': newIdempotencyKey('table') });
const STAFF_NOT_FOUND = { reviewer: 404, officer: 404, admin: 404, otherReviewer: 404, otherOfficer: 404 } as const;
const STAFF_PASSWORD = 'table staff password 1';
const NO_SUCH_ID = randomUUID();
let institutionId: string;
let loginSequence = 0;
let homeSequence = 0;

const TABLE: Record<string, Row> = {
  'GET /healthz': { target: 'person', request: () => ({ path: '/healthz' }), expected: publicRoute(200) },
  'GET /metrics': { target: 'person', request: () => ({ path: '/metrics' }), expected: publicRoute(200) },
  'GET /openapi.json': { target: 'person', request: () => ({ path: '/openapi.json' }), expected: publicRoute(200) },
  'POST /v1/staff/sessions': {
    target: 'person',
    request: () => ({ path: '/v1/staff/sessions', body: { login: 'table.reviewer', password: STAFF_PASSWORD } }),
    expected: publicRoute(201),
  },

  'POST /v1/elders': {
    target: 'person',
    request: () => ({ path: '/v1/elders', body: registrationBody('1949-09-09') }),
    expected: statuses(403, { reviewer: 201, officer: 201, admin: 201, agent: 201 }),
  },
  'POST /v1/volunteers': {
    target: 'person',
    request: () => ({ path: '/v1/volunteers', body: volunteerBody('1991-09-09') }),
    expected: statuses(403, { reviewer: 201, officer: 201, admin: 201, agent: 201 }),
  },
  'GET /v1/persons/:id': {
    target: 'person',
    request: (t) => ({ path: `/v1/persons/${t.elder.id}` }),
    expected: statuses(404, { elder: 200, agent: 200, ...STAFF_OK }),
  },
  'POST /v1/persons/:id/reveal': {
    target: 'person',
    request: (t) => ({ path: `/v1/persons/${t.elder.id}/reveal`, body: { field: 'phone', reason: '电话回访' } }),
    expected: statuses(403, { reviewer: 200, officer: 200, ...OTHER_DISTRICT_404 }),
  },
  'POST /v1/persons/:id/consents': {
    // The target elder already consented, so an allowed call returns the consent in force.
    target: 'person',
    request: (t) => ({ path: `/v1/persons/${t.elder.id}/consents`, body: { institutionId } }),
    expected: statuses(404, { elder: 200, ...STAFF_OK, agent: 403, operator: 403 }),
  },
  'DELETE /v1/persons/:id/consents/:institutionId': {
    target: 'person',
    mutating: true,
    request: (t) => ({ path: `/v1/persons/${t.elder.id}/consents/${institutionId}` }),
    expected: statuses(404, { elder: 200, ...STAFF_OK, agent: 403, operator: 403 }),
  },
  'GET /v1/persons/:id/relationships': {
    target: 'person',
    request: (t) => ({ path: `/v1/persons/${t.elder.id}/relationships` }),
    expected: statuses(404, { elder: 200, agent: 200, ...STAFF_OK }),
  },
  'POST /v1/persons/:id/relationships': {
    target: 'relationship',
    request: (t) => ({ path: `/v1/persons/${t.elder.id}/relationships`, body: { relativeId: t.relativeId, kind: 'child' } }),
    expected: statuses(403, { elder: 201, agent: 201 }),
  },
  'POST /v1/relationships/:id/review': {
    target: 'relationship',
    mutating: true,
    request: (t) => ({ path: `/v1/relationships/${t.relationshipId}/review`, body: { decision: 'verify' } }),
    expected: statuses(403, { ...STAFF_OK, ...OTHER_DISTRICT_404 }),
  },

  'POST /v1/institutions': {
    target: 'person',
    request: () => ({ path: '/v1/institutions', body: { name: '表格测试机构', streetCode: STREET } }),
    expected: statuses(403, { reviewer: 201 }),
  },
  'GET /v1/institutions/:id': {
    target: 'person',
    request: () => ({ path: `/v1/institutions/${institutionId}` }),
    expected: statuses(404, { ...STAFF_OK, agent: 200 }),
  },
  'POST /v1/institutions/:id/agents': {
    target: 'person',
    request: () => {
      loginSequence += 1;
      return {
        path: `/v1/institutions/${institutionId}/agents`,
        body: { name: '表格代办人', login: `table.agent.${loginSequence}`, password: 'agent password 123' },
      };
    },
    expected: statuses(403, { reviewer: 201, otherReviewer: 404 }),
  },

  'POST /v1/orders': {
    // Volunteers under the redemption age may not request service for themselves (403).
    target: 'person',
    request: () => ({ path: '/v1/orders', body: orderBody(LONG_LEAD_MINUTES), headers: keyed() }),
    expected: statuses(403, { elder: 201, otherElder: 201, agent: 201 }),
  },
  'GET /v1/orders': {
    target: 'person',
    request: () => ({ path: '/v1/orders' }),
    expected: statuses(200, { operator: 403 }),
  },
  'GET /v1/orders/:id': {
    target: 'matched',
    request: (t) => ({ path: `/v1/orders/${t.orderId}` }),
    expected: statuses(404, { elder: 200, volunteer: 200, agent: 200, ...STAFF_OK, operator: 403 }),
  },
  'POST /v1/orders/:id/review': {
    target: 'pending_review',
    mutating: true,
    request: (t) => ({ path: `/v1/orders/${t.orderId}/review`, body: { decision: 'approve' } }),
    expected: statuses(403, { ...STAFF_OK, ...OTHER_DISTRICT_404 }),
  },
  'POST /v1/orders/:id/accept': {
    target: 'open',
    mutating: true,
    agentFor: 'volunteer',
    request: (t) => ({ path: `/v1/orders/${t.orderId}/accept`, body: {} }),
    expected: statuses(403, { volunteer: 200, otherVolunteer: 200, guardian: 200, agent: 200 }),
  },
  'POST /v1/orders/:id/withdraw': {
    target: 'matched',
    mutating: true,
    agentFor: 'volunteer',
    request: (t) => ({ path: `/v1/orders/${t.orderId}/withdraw`, body: {} }),
    expected: statuses(403, { volunteer: 200, agent: 200, otherVolunteer: 404, guardian: 404 }),
  },
  'POST /v1/orders/:id/sign-in': {
    target: 'matched',
    freshTarget: 'signInReady',
    mutating: true,
    agentFor: 'volunteer',
    request: (t) => ({ path: `/v1/orders/${t.orderId}/sign-in`, body: {} }),
    expected: statuses(403, { volunteer: 200, agent: 200, otherVolunteer: 404, guardian: 404 }),
  },
  'POST /v1/orders/:id/sign-out': {
    target: 'in_service',
    mutating: true,
    agentFor: 'volunteer',
    request: (t) => ({ path: `/v1/orders/${t.orderId}/sign-out`, body: {} }),
    expected: statuses(403, { volunteer: 200, agent: 200, otherVolunteer: 404, guardian: 404 }),
  },
  'POST /v1/orders/:id/rating': {
    target: 'awaiting_rating',
    mutating: true,
    request: (t) => ({ path: `/v1/orders/${t.orderId}/rating`, body: { rating: 5 } }),
    expected: statuses(403, { elder: 200, agent: 200, otherElder: 404, otherVolunteer: 404, guardian: 404 }),
  },
  'POST /v1/orders/:id/dispute-resolution': {
    target: 'disputed',
    mutating: true,
    request: (t) => ({ path: `/v1/orders/${t.orderId}/dispute-resolution`, body: { servedMinutes: 60, note: '核实' } }),
    expected: statuses(403, { ...STAFF_OK, ...OTHER_DISTRICT_404 }),
  },
  'POST /v1/orders/:id/cancel': {
    target: 'pending_review',
    mutating: true,
    request: (t) => ({ path: `/v1/orders/${t.orderId}/cancel`, body: {} }),
    expected: statuses(404, { elder: 200, agent: 200, ...STAFF_OK, operator: 403 }),
  },

  'GET /v1/accounts/:id': {
    target: 'person',
    request: (t) => ({ path: `/v1/accounts/${t.elder.id}` }),
    expected: statuses(404, { elder: 200, agent: 200, ...STAFF_OK }),
  },
  'GET /v1/accounts/:id/entries': {
    target: 'person',
    request: (t) => ({ path: `/v1/accounts/${t.elder.id}/entries` }),
    expected: statuses(404, { elder: 200, agent: 200, ...STAFF_OK }),
  },
  'POST /v1/grants': {
    target: 'person',
    request: (t) => ({ path: '/v1/grants', body: { elderId: t.elder.id, amountMinutes: 60, reason: '高龄补贴' }, headers: keyed() }),
    expected: statuses(403, { officer: 201, otherOfficer: 404 }),
  },
  'POST /v1/gifts': {
    // Only the elder has a verified relative; other people may give, but not to a stranger (409).
    target: 'relative',
    request: (t) => ({ path: '/v1/gifts', body: { recipientId: t.relativeId, amountMinutes: 1 }, headers: keyed() }),
    expected: statuses(403, { elder: 201, agent: 201, otherElder: 409, volunteer: 409, otherVolunteer: 409, guardian: 409 }),
  },
  'POST /v1/donations': {
    // Volunteers hold no coins here, so their donation is refused for the balance (409), not the role.
    target: 'person',
    request: () => ({ path: '/v1/donations', body: { to: DISTRICT, amountMinutes: 1 }, headers: keyed() }),
    expected: statuses(403, { elder: 201, otherElder: 201, agent: 201, volunteer: 409, otherVolunteer: 409, guardian: 409 }),
  },
  'POST /v1/welfare-allocations': {
    target: 'person',
    request: (t) => ({
      path: '/v1/welfare-allocations',
      body: { from: DISTRICT, elderId: t.elder.id, amountMinutes: 1, reason: '困难补助' },
      headers: keyed(),
    }),
    expected: statuses(403, { officer: 201, admin: 201 }),
  },
  'POST /v1/reversals': {
    target: 'reversible',
    request: (t) => ({ path: '/v1/reversals', body: { transferId: t.transferId, amountMinutes: 1, reason: '核实为误发' }, headers: keyed() }),
    expected: statuses(403, { officer: 201, admin: 201, otherOfficer: 404 }),
  },

  'GET /v1/ops/orders/:id/history': {
    target: 'matched',
    request: (t) => ({ path: `/v1/ops/orders/${t.orderId}/history` }),
    expected: OPS_ONLY,
  },
  'POST /v1/ops/reconciliations': {
    target: 'person',
    request: () => ({ path: '/v1/ops/reconciliations', body: {} }),
    expected: statuses(403, { operator: 201, admin: 201 }),
  },
  'GET /v1/ops/reconciliations': { target: 'person', request: () => ({ path: '/v1/ops/reconciliations' }), expected: OPS_ONLY },
  'GET /v1/ops/access-log': { target: 'person', request: () => ({ path: '/v1/ops/access-log' }), expected: OPS_ONLY },

  /*
   * Care-home applications, accident claims and follow-up calls. These rows
   * check the role gate and the object scope with ids that do not exist, so an
   * allowed caller gets 404, and with an ineligible applicant (422). The
   * suites of those features cover their successful paths.
   */
  'GET /v1/care-homes': {
    target: 'person',
    request: () => ({ path: '/v1/care-homes' }),
    expected: statuses(403, { ...STAFF_OK, otherReviewer: 200, otherOfficer: 200 }),
  },
  'POST /v1/care-homes': {
    target: 'person',
    request: () => {
      homeSequence += 1;
      return { path: '/v1/care-homes', body: { name: `表格养老院${homeSequence}`, districtCode: DISTRICT, beds: ['1-1'] } };
    },
    expected: statuses(403, { officer: 201, admin: 201 }),
  },
  'POST /v1/care-homes/:id/beds': {
    target: 'person',
    request: () => ({ path: `/v1/care-homes/${NO_SUCH_ID}/beds`, body: { labels: ['2-1'] } }),
    expected: statuses(403, { officer: 404, otherOfficer: 404, admin: 404 }),
  },
  'POST /v1/care-homes/:id/beds/:bedId/vacate': {
    target: 'person',
    request: () => ({ path: `/v1/care-homes/${NO_SUCH_ID}/beds/${NO_SUCH_ID}/vacate`, body: {} }),
    expected: statuses(403, { officer: 404, otherOfficer: 404, admin: 404 }),
  },
  'POST /v1/cases': {
    // No one here has served 10,000 hours, so every allowed applicant is ineligible (422).
    target: 'person',
    agentFor: 'volunteer',
    request: () => ({ path: '/v1/cases', body: {}, headers: keyed() }),
    expected: statuses(403, { volunteer: 422, otherVolunteer: 422, guardian: 422, agent: 422 }),
  },
  'GET /v1/cases': { target: 'person', request: () => ({ path: '/v1/cases' }), expected: statuses(200) },
  'GET /v1/cases/:id': { target: 'person', request: () => ({ path: `/v1/cases/${NO_SUCH_ID}` }), expected: statuses(404) },
  'POST /v1/cases/:id/withdrawal': {
    target: 'person',
    request: () => ({ path: `/v1/cases/${NO_SUCH_ID}/withdrawal`, body: {} }),
    expected: statuses(403, { volunteer: 404, otherVolunteer: 404, guardian: 404, agent: 404, officer: 404, otherOfficer: 404, admin: 404 }),
  },
  ...Object.fromEntries(
    [
      ['assessment', { abilityLevel: 2 }],
      ['approval', {}],
      ['rejection', { reason: '不符合条件' }],
      ['placement', {}],
      ['admission', {}],
    ].map(([step, body]): [string, Row] => [
      `POST /v1/cases/:id/${step as string}`,
      {
        target: 'person',
        request: () => ({ path: `/v1/cases/${NO_SUCH_ID}/${step as string}`, body }),
        expected: statuses(403, { officer: 404, otherOfficer: 404, admin: 404 }),
      },
    ]),
  ),
  'POST /v1/claims': {
    target: 'person',
    agentFor: 'volunteer',
    request: () => ({
      path: '/v1/claims',
      body: { orderId: NO_SUCH_ID, injuredAt: new Date().toISOString(), description: '服务途中摔伤' },
      headers: keyed(),
    }),
    expected: statuses(403, { volunteer: 404, otherVolunteer: 404, guardian: 404, agent: 404 }),
  },
  'GET /v1/claims': {
    target: 'person',
    agentFor: 'volunteer',
    request: () => ({ path: '/v1/claims' }),
    expected: statuses(200, { elder: 403, otherElder: 403, operator: 403 }),
  },
  'GET /v1/claims/:id': { target: 'person', request: () => ({ path: `/v1/claims/${NO_SUCH_ID}` }), expected: statuses(404) },
  'POST /v1/claims/:id/close': {
    target: 'person',
    request: () => ({ path: `/v1/claims/${NO_SUCH_ID}/close`, body: { reason: '已结案' } }),
    expected: statuses(403, { ...STAFF_NOT_FOUND }),
  },
  'POST /v1/claims/:id/retry': {
    target: 'person',
    request: () => ({ path: `/v1/claims/${NO_SUCH_ID}/retry`, body: {} }),
    expected: statuses(403, { ...STAFF_NOT_FOUND }),
  },
  'GET /v1/follow-up-calls': {
    target: 'person',
    request: () => ({ path: '/v1/follow-up-calls' }),
    expected: statuses(403, { agent: 200, ...STAFF_OK, otherReviewer: 200, otherOfficer: 200 }),
  },
  'POST /v1/follow-up-calls/:id/outcome': {
    target: 'person',
    request: () => ({ path: `/v1/follow-up-calls/${NO_SUCH_ID}/outcome`, body: { outcome: '已回访', reached: true } }),
    expected: statuses(403, { agent: 404, ...STAFF_NOT_FOUND }),
  },

  'GET /v1/districts': { target: 'person', request: () => ({ path: '/v1/districts' }), expected: statuses(200) },
  'GET /v1/districts/:code/streets': {
    target: 'person',
    request: () => ({ path: `/v1/districts/${DISTRICT}/streets` }),
    expected: statuses(200),
  },
  'GET /v1/service-categories': { target: 'person', request: () => ({ path: '/v1/service-categories' }), expected: statuses(200) },
};

let api: ApiEnv;
let tokens: Tokens;
let others: { elder: Member; volunteer: Member; guardian: Member; unconsented: Member };

beforeAll(async () => {
  api = await startApiEnv(API_ENV);
  tokens = await staffTokens(api);
  institutionId = (await testInstitution(api)).institutionId;
  const guardian = await newVolunteer(api);
  await insertPerson(api.db.orm, { volunteer: true, birthDate: '2011-03-03', guardianId: guardian.id });
  others = {
    elder: await newElder(api),
    volunteer: await newVolunteer(api),
    guardian,
    unconsented: await newElder(api, 0, { consent: false }),
  };
  await createStaffAccount(api.db.orm.em.fork(), {
    name: '表格审核员',
    role: 'street_reviewer',
    districtCode: DISTRICT,
    login: 'table.reviewer',
    password: STAFF_PASSWORD,
  });
  // Coins in the district's welfare account for the allocation row.
  const donor = await newElder(api);
  const donation = await api.call('POST', '/v1/donations', {
    token: donor.token,
    body: { to: DISTRICT, amountMinutes: 120 },
    headers: keyed(),
  });
  expect(donation.status).toBe(201);
});

afterAll(async () => {
  await api?.stop();
});

async function people(): Promise<Target> {
  return { elder: await newElder(api), volunteer: await newVolunteer(api) };
}

async function buildTarget(kind: TargetKind): Promise<Target> {
  switch (kind) {
    case 'person':
      return people();
    case 'signInReady': {
      const elder = await newElder(api);
      const volunteer = await newVolunteer(api);
      const order = await placeOrder(api, elder, SHORT_LEAD_MINUTES);
      await step(api, order.id, 'review', tokens.reviewer, { decision: 'approve' }, 'open');
      await step(api, order.id, 'accept', volunteer.token, {}, 'matched');
      await waitForSignInWindow(order.startMs);
      return { elder, volunteer, orderId: order.id };
    }
    case 'relationship':
    case 'relative': {
      const target = await people();
      const relative = await newElder(api, 0);
      const relationshipId = randomUUID();
      await api.db.orm.em
        .fork()
        .execute(
          `insert into person_relationship (id, person_id, relative_id, kind, status, claimed_by) values (?, ?, ?, 'child', ?, ?)`,
          [relationshipId, target.elder.id, relative.id, kind === 'relative' ? 'verified' : 'claimed', target.elder.id],
        );
      return { ...target, relationshipId, relativeId: relative.id };
    }
    case 'reversible': {
      const target = await people();
      const transferId = `table-grant:${randomUUID()}`;
      await postTransfer(api.db.orm.em.fork(), {
        id: transferId,
        kind: 'grant',
        debitAccountId: grantAccountId(DISTRICT),
        creditAccountId: personalAccountId(target.elder.id),
        amount: 120,
      });
      return { ...target, transferId };
    }
    default: {
      const fixture = await orderIn(api, tokens, kind);
      return { elder: fixture.elder, volunteer: fixture.volunteer, orderId: fixture.id };
    }
  }
}

const shared = new Map<TargetKind, Promise<Target>>();

function sharedTarget(kind: TargetKind): Promise<Target> {
  let target = shared.get(kind);
  if (!target) {
    target = buildTarget(kind);
    shared.set(kind, target);
  }
  return target;
}

function credentials(caller: Caller, target: Target, row: Row): Record<string, string> {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  switch (caller) {
    case 'anonymous':
      return {};
    case 'elder':
      return bearer(target.elder.token);
    case 'volunteer':
      return bearer(target.volunteer.token);
    case 'otherElder':
      return bearer(others.elder.token);
    case 'otherVolunteer':
      return bearer(others.volunteer.token);
    case 'guardian':
      return bearer(others.guardian.token);
    case 'agent': {
      const person = row.agentFor === 'volunteer' ? target.volunteer : target.elder;
      return { ...bearer(tokens.agent), 'On-Behalf-Of': person.id };
    }
    case 'agentNoConsent':
      return { ...bearer(tokens.agent), 'On-Behalf-Of': others.unconsented.id };
    default:
      return bearer(tokens[caller]);
  }
}

const cases = Object.entries(TABLE).flatMap(([route, row]) =>
  CALLERS.map((caller) => ({ route, caller, row, status: row.expected[caller] })),
);

test('table covers every route', () => {
  const routes = listRoutes(api.system.app!);

  expect([...new Set(routes)].sort()).toEqual(Object.keys(TABLE).sort());
});

test('table size', () => {
  expect(cases).toHaveLength(Object.keys(TABLE).length * CALLERS.length);
});

describe('status by route and caller', () => {
  test.each(cases)('$route as $caller gets $status', async ({ route, caller, row, status }) => {
    const success = status >= 200 && status < 300;
    const target = success && row.mutating ? await buildTarget(row.freshTarget ?? row.target) : await sharedTarget(row.target);
    const request = row.request(target);
    const method = route.split(' ')[0];

    const res = await api.call(method, request.path, {
      body: request.body,
      headers: { ...(request.headers ?? {}), ...credentials(caller, target, row) },
    });

    expect({ route, caller, status: res.status, code: res.body?.code }).toEqual({
      route,
      caller,
      status,
      code: status >= 400 ? expect.any(String) : undefined,
    });
  });
});
