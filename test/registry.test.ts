import { randomBytes } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { ConfigError } from '../domain/config';
import {
  RegistryClient,
  RegistryConnectionError,
  RegistryError,
  RegistryInputError,
  RegistryRequestError,
  RegistryResponseError,
  RegistryServerError,
  RegistryTimeoutError,
  createRegistryClient,
} from '../registry/client';
import { loadRegistryClientConfig } from '../registry/config';
import { ClaimInput, ServiceRecordInput } from '../registry/contract';
import { RegistrySimulator, startRegistrySimulator } from '../registry/simulator';

const API_KEY = randomBytes(24).toString('hex');
const INSURED_REF = 'vref_insured_0001';
const OTHER_REF = 'vref_other_0002';

/** Returns the URL of the PostgreSQL server the suite creates its database on, the system server by default. */
function serverUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl() });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

const databaseName = `registry_sim_test_${randomBytes(6).toString('hex')}`;
let simulator: RegistrySimulator;
let client: RegistryClient;

beforeAll(async () => {
  await adminQuery(`create database ${databaseName}`);
  const url = new URL(serverUrl());
  url.pathname = `/${databaseName}`;
  simulator = await startRegistrySimulator({ databaseUrl: url.toString(), apiKey: API_KEY });
  client = createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 5_000 });
});

afterAll(async () => {
  await simulator?.stop();
  await adminQuery(`drop database if exists ${databaseName} with (force)`);
});

beforeEach(async () => {
  await simulator.reset();
});

function serviceRecord(overrides: Partial<ServiceRecordInput> = {}): ServiceRecordInput {
  return {
    volunteerRef: INSURED_REF,
    serviceItem: 'emotional_comfort',
    place: { districtCode: '110105', streetCode: '110105001' },
    startedAt: '2024-05-01T01:00:00.000Z',
    endedAt: '2024-05-01T03:10:00.000Z',
    minutes: 120,
    ...overrides,
  };
}

function claim(recordId: string, overrides: Partial<ClaimInput> = {}): ClaimInput {
  return {
    volunteerRef: INSURED_REF,
    recordId,
    injuredAt: '2024-05-01T02:30:00+08:00',
    description: 'Twisted an ankle on the stairs while accompanying the elder home.',
    ...overrides,
  };
}

/** Sends a request with the API key to the simulator and returns the status and the parsed body. */
async function simRequest(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  const requestHeaders: Record<string, string> = { authorization: `Bearer ${API_KEY}` };
  if (body !== undefined) requestHeaders['content-type'] = 'application/json';
  Object.assign(requestHeaders, headers);

  // A string body is sent as is, so tests can send malformed JSON.
  let requestBody: string | undefined;
  if (typeof body === 'string') requestBody = body;
  else if (body !== undefined) requestBody = JSON.stringify(body);

  const response = await fetch(simulator.url + path, { method, headers: requestHeaders, body: requestBody });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

/** Awaits a promise expected to reject and returns its error. */
async function failureOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail, but it succeeded');
}

/** Pushes one record, retrying retryable failures up to maxAttempts times, and returns the attempts used. */
async function pushWithRetries(
  registry: RegistryClient,
  recordId: string,
  record: ServiceRecordInput,
  maxAttempts: number,
): Promise<number> {
  for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
    try {
      await registry.putServiceRecord(recordId, record);
      return attempt;
    } catch (err) {
      if (!(err instanceof RegistryError) || !err.retryable) throw err;
    }
  }
  throw new Error(`record ${recordId} was not accepted within ${maxAttempts} attempts`);
}

describe('volunteer status', () => {
  test('reports seeded volunteers', async () => {
    const seeded = await simRequest('POST', '/_sim/volunteers', [
      { volunteerRef: INSURED_REF, insuredUntil: '2099-12-31' },
      { volunteerRef: 'vref_pending_0003', registered: true, approved: false },
      { volunteerRef: 'vref_lapsed_0004', insuredUntil: '2020-01-31' },
    ]);
    expect(seeded.status).toBe(200);
    expect(seeded.body).toEqual({ seeded: 3 });

    await expect(client.getVolunteerStatus(INSURED_REF)).resolves.toEqual({
      registered: true,
      approved: true,
      insured: true,
      insuredUntil: '2099-12-31',
    });
    await expect(client.getVolunteerStatus('vref_pending_0003')).resolves.toEqual({
      registered: true,
      approved: false,
      insured: false,
    });
    await expect(client.getVolunteerStatus('vref_lapsed_0004')).resolves.toEqual({
      registered: true,
      approved: true,
      insured: false,
      insuredUntil: '2020-01-31',
    });
  });

  test('unknown volunteer is not registered', async () => {
    await expect(client.getVolunteerStatus('vref_unknown_0009')).resolves.toEqual({
      registered: false,
      approved: false,
      insured: false,
    });
  });

  test('seeding rejects inconsistent status', async () => {
    const response = await simRequest('POST', '/_sim/volunteers', {
      volunteerRef: 'vref_bad_seed_01',
      registered: false,
      approved: true,
    });
    expect(response.status).toBe(400);
    expect(response.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.approved']);

    const inList = await simRequest('POST', '/_sim/volunteers', [
      { volunteerRef: 'vref_good_seed_01' },
      { volunteerRef: 'vref_bad_seed_02', approved: false, insuredUntil: '2099-12-31' },
    ]);
    expect(inList.status).toBe(400);
    expect(inList.body.errors.map((e: { field: string }) => e.field)).toEqual(['body.1.insuredUntil']);
  });
});

describe('service records', () => {
  test('same content twice stores one record', async () => {
    const first = await client.putServiceRecord('order-1', serviceRecord());
    expect(first.created).toBe(true);
    expect(first.record).toMatchObject({ recordId: 'order-1', minutes: 120, backfilled: false });

    const second = await client.putServiceRecord('order-1', serviceRecord());
    expect(second.created).toBe(false);
    expect(second.record).toEqual(first.record);

    // The same instants written with another offset are the same content.
    const shifted = await client.putServiceRecord(
      'order-1',
      serviceRecord({ startedAt: '2024-05-01T09:00:00+08:00', endedAt: '2024-05-01T11:10:00+08:00' }),
    );
    expect(shifted.created).toBe(false);

    const stats = await simulator.stats();
    expect(stats.records).toBe(1);
    expect(stats.replaysAccepted).toBe(2);
    expect(stats.duplicatesRejected).toBe(0);
  });

  test('concurrent pushes create one record', async () => {
    const results = await Promise.all(
      Array.from({ length: 6 }, () => client.putServiceRecord('order-race', serviceRecord())),
    );
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect((await simulator.stats()).records).toBe(1);
  });

  test('different content is a non-retryable conflict', async () => {
    await client.putServiceRecord('order-2', serviceRecord());

    const err = await failureOf(client.putServiceRecord('order-2', serviceRecord({ minutes: 90 })));
    expect(err).toBeInstanceOf(RegistryRequestError);
    const conflict = err as RegistryRequestError;
    expect(conflict.status).toBe(409);
    expect(conflict.code).toBe('record_conflict');
    expect(conflict.retryable).toBe(false);
    expect(conflict.detail).toContain('minutes');

    const stored = await client.getServiceRecord('order-2');
    expect(stored?.minutes).toBe(120);
    const stats = await simulator.stats();
    expect(stats.records).toBe(1);
    expect(stats.duplicatesRejected).toBe(1);
  });

  test('back-fill marks the record', async () => {
    const backfilled = await client.backfillServiceRecord('order-3', serviceRecord());
    expect(backfilled.created).toBe(true);
    expect(backfilled.record.backfilled).toBe(true);

    const stored = await client.getServiceRecord('order-3');
    expect(stored?.backfilled).toBe(true);

    const repeated = await client.backfillServiceRecord('order-3', serviceRecord());
    expect(repeated.created).toBe(false);
    const pushedAfter = await client.putServiceRecord('order-3', serviceRecord());
    expect(pushedAfter.created).toBe(false);
    expect(pushedAfter.record.backfilled).toBe(true);

    const err = await failureOf(client.backfillServiceRecord('order-3', serviceRecord({ serviceItem: 'legal_aid' })));
    expect(err).toBeInstanceOf(RegistryRequestError);
    expect((err as RegistryRequestError).code).toBe('record_conflict');

    const stats = await simulator.stats();
    expect(stats.records).toBe(1);
    expect(stats.backfilledRecords).toBe(1);
  });

  test('unknown record lookup returns undefined', async () => {
    await expect(client.getServiceRecord('order-never-sent')).resolves.toBeUndefined();
  });
});

describe('claims', () => {
  test('submit and follow status progression', async () => {
    await client.putServiceRecord('order-10', serviceRecord());

    const submitted = await client.putClaim('claim-10', claim('order-10'));
    expect(submitted.created).toBe(true);
    expect(submitted.claim.status).toBe('submitted');

    const repeated = await client.putClaim('claim-10', claim('order-10'));
    expect(repeated.created).toBe(false);
    expect(repeated.claim).toEqual(submitted.claim);

    let previousUpdatedAt = submitted.claim.updatedAt;
    for (const expected of ['reviewing', 'approved', 'closed']) {
      const advanced = await simRequest('POST', '/_sim/claims/claim-10/advance');
      expect(advanced.status).toBe(200);
      expect(advanced.body.status).toBe(expected);

      const status = await client.getClaimStatus('claim-10');
      expect(status?.status).toBe(expected);
      expect(Date.parse(status!.updatedAt)).toBeGreaterThan(Date.parse(previousUpdatedAt));
      previousUpdatedAt = status!.updatedAt;
    }

    const pastClosed = await simRequest('POST', '/_sim/claims/claim-10/advance');
    expect(pastClosed.status).toBe(409);
    expect(pastClosed.body.code).toBe('claim_closed');
  });

  test('review may reject a claim', async () => {
    await client.putServiceRecord('order-11', serviceRecord());
    await client.putClaim('claim-11', claim('order-11'));

    await simRequest('POST', '/_sim/claims/claim-11/advance');
    const rejected = await simRequest('POST', '/_sim/claims/claim-11/advance', { outcome: 'rejected' });
    expect(rejected.body.status).toBe('rejected');
    await expect(client.getClaimStatus('claim-11')).resolves.toMatchObject({ status: 'rejected' });
  });

  test('different claim content is a conflict', async () => {
    await client.putServiceRecord('order-12', serviceRecord());
    await client.putClaim('claim-12', claim('order-12'));

    const err = await failureOf(client.putClaim('claim-12', claim('order-12', { description: 'Cut a finger.' })));
    expect(err).toBeInstanceOf(RegistryRequestError);
    expect((err as RegistryRequestError).status).toBe(409);
    expect((err as RegistryRequestError).code).toBe('claim_conflict');
    expect((err as RegistryRequestError).retryable).toBe(false);
    expect((await simulator.stats()).duplicatesRejected).toBe(1);
  });

  test('unknown service record is 422', async () => {
    const err = await failureOf(client.putClaim('claim-13', claim('order-13')));
    expect(err).toBeInstanceOf(RegistryRequestError);
    const rejection = err as RegistryRequestError;
    expect(rejection.status).toBe(422);
    expect(rejection.code).toBe('unknown_service_record');
    expect(rejection.retryable).toBe(false);
    expect(rejection.fieldErrors.map((e) => e.field)).toEqual(['body.recordId']);

    // Back-filling the record lets the same claim through.
    await client.backfillServiceRecord('order-13', serviceRecord());
    const submitted = await client.putClaim('claim-13', claim('order-13'));
    expect(submitted.created).toBe(true);
  });

  test('claim by another volunteer is 422', async () => {
    await client.putServiceRecord('order-14', serviceRecord());
    const err = await failureOf(client.putClaim('claim-14', claim('order-14', { volunteerRef: OTHER_REF })));
    expect(err).toBeInstanceOf(RegistryRequestError);
    expect((err as RegistryRequestError).status).toBe(422);
    expect((err as RegistryRequestError).code).toBe('volunteer_mismatch');
  });

  test('unknown claim status returns undefined', async () => {
    await expect(client.getClaimStatus('claim-never-sent')).resolves.toBeUndefined();
  });
});

describe('faults', () => {
  test('retrying through 50 % failures stores each record once', async () => {
    simulator.setFaults({ failRate: 0.5, seed: 20240501 });
    const recordIds = Array.from({ length: 20 }, (_, i) => `order-flaky-${i}`);

    let attempts = 0;
    for (const recordId of recordIds) {
      attempts += await pushWithRetries(client, recordId, serviceRecord(), 40);
    }
    simulator.setFaults({});

    const stats = await simulator.stats();
    expect(stats.injectedFailures).toBe(attempts - recordIds.length);
    expect(stats.injectedFailures).toBeGreaterThan(0);
    expect(stats.records).toBe(recordIds.length);
    expect(stats.duplicatesRejected).toBe(0);
    for (const recordId of recordIds) {
      await expect(client.getServiceRecord(recordId)).resolves.toMatchObject({ recordId, minutes: 120 });
    }
  });

  test('retrying through timeouts stores each record once', async () => {
    const impatient = createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 250 });
    simulator.setFaults({ failRate: 0.3, timeoutRate: 0.3, seed: 7 });
    const recordIds = Array.from({ length: 10 }, (_, i) => `order-slow-${i}`);

    for (const recordId of recordIds) {
      await pushWithRetries(impatient, recordId, serviceRecord(), 40);
    }
    simulator.setFaults({});

    const stats = await simulator.stats();
    expect(stats.injectedTimeouts).toBeGreaterThan(0);
    expect(stats.records).toBe(recordIds.length);
    expect(stats.duplicatesRejected).toBe(0);
  });

  test('timeout is a retryable timeout error', async () => {
    const impatient = createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 300 });
    simulator.setFaults({ timeoutRate: 1 });

    const err = await failureOf(impatient.putServiceRecord('order-20', serviceRecord()));
    expect(err).toBeInstanceOf(RegistryTimeoutError);
    expect((err as RegistryTimeoutError).kind).toBe('timeout');
    expect((err as RegistryTimeoutError).retryable).toBe(true);
    expect((err as RegistryTimeoutError).timeoutMs).toBe(300);

    // The hung write took effect, so the retry finds it already stored.
    simulator.setFaults({});
    const retried = await impatient.putServiceRecord('order-20', serviceRecord());
    expect(retried.created).toBe(false);
    expect((await simulator.stats()).injectedTimeouts).toBe(1);
  });

  test('slow response times out', async () => {
    const impatient = createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 200 });
    simulator.setFaults({ slowMs: 1_000 });
    const err = await failureOf(impatient.getVolunteerStatus(INSURED_REF));
    expect(err).toBeInstanceOf(RegistryTimeoutError);
    expect((err as RegistryTimeoutError).retryable).toBe(true);
  });

  test('lost record is missing on lookup', async () => {
    simulator.setFaults({ loseRecordRate: 1 });
    const pushed = await client.putServiceRecord('order-30', serviceRecord());
    expect(pushed.created).toBe(true);
    simulator.setFaults({});

    await expect(client.getServiceRecord('order-30')).resolves.toBeUndefined();
    expect((await simulator.stats()).lostRecords).toBe(1);

    const backfilled = await client.backfillServiceRecord('order-30', serviceRecord());
    expect(backfilled.created).toBe(true);
    await expect(client.getServiceRecord('order-30')).resolves.toMatchObject({ backfilled: true });
  });

  test('503 is a retryable server error', async () => {
    simulator.setFaults({ failRate: 1 });
    const err = await failureOf(client.getClaimStatus('claim-1'));
    expect(err).toBeInstanceOf(RegistryServerError);
    expect((err as RegistryServerError).status).toBe(503);
    expect((err as RegistryServerError).code).toBe('unavailable');
    expect((err as RegistryServerError).retryable).toBe(true);
  });

  test('faults are steerable over HTTP', async () => {
    const set = await simRequest('POST', '/_sim/faults', { failRate: 1, seed: 11 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ failRate: 1, slowMs: 0, timeoutRate: 0, loseRecordRate: 0, seed: 11 });
    await expect(client.getVolunteerStatus(INSURED_REF)).rejects.toBeInstanceOf(RegistryServerError);

    const invalid = await simRequest('POST', '/_sim/faults', { failRate: 2, slowness: 5 });
    expect(invalid.status).toBe(400);
    expect(invalid.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.failRate',
      'body.slowness',
    ]);

    const cleared = await simRequest('POST', '/_sim/faults', {});
    expect(cleared.body.failRate).toBe(0);
    await expect(client.getVolunteerStatus(INSURED_REF)).resolves.toMatchObject({ registered: false });

    await client.putServiceRecord('order-40', serviceRecord());
    const reset = await simRequest('POST', '/_sim/reset');
    expect(reset.status).toBe(204);
    const stats = await simRequest('GET', '/_sim/stats');
    expect(stats.body).toMatchObject({ records: 0, injectedFailures: 0 });
  });
});

describe('client failures', () => {
  test('connection refused is retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    const unreachable = createRegistryClient({
      baseUrl: `http://127.0.0.1:${port}`,
      apiKey: API_KEY,
      timeoutMs: 2_000,
    });
    const err = await failureOf(unreachable.getVolunteerStatus(INSURED_REF));
    expect(err).toBeInstanceOf(RegistryConnectionError);
    expect((err as RegistryConnectionError).systemCode).toBe('ECONNREFUSED');
    expect((err as RegistryConnectionError).retryable).toBe(true);
  });

  test('wrong API key is not retryable', async () => {
    const intruder = createRegistryClient({ baseUrl: simulator.url, apiKey: 'not-the-key', timeoutMs: 2_000 });
    const err = await failureOf(intruder.getVolunteerStatus(INSURED_REF));
    expect(err).toBeInstanceOf(RegistryRequestError);
    expect((err as RegistryRequestError).status).toBe(401);
    expect((err as RegistryRequestError).code).toBe('unauthorized');
    expect((err as RegistryRequestError).retryable).toBe(false);
  });

  test('invalid input is rejected before sending', async () => {
    const rawId = await failureOf(client.getVolunteerStatus('11010519491231002X'));
    expect(rawId).toBeInstanceOf(RegistryInputError);
    expect((rawId as RegistryInputError).issues.map((i) => i.field)).toEqual(['volunteerRef']);
    expect((rawId as RegistryInputError).retryable).toBe(false);

    const withAddress = {
      ...serviceRecord(),
      place: { districtCode: '110105', streetCode: '110105001', address: 'No. 1 Example Road' },
    };
    const err = await failureOf(client.putServiceRecord('order-50', withAddress as ServiceRecordInput));
    expect(err).toBeInstanceOf(RegistryInputError);
    expect((err as RegistryInputError).issues.map((i) => i.field)).toEqual(['record.place.address']);
    expect((await simulator.stats()).records).toBe(0);
  });

  test('invalid client options raise ConfigError', () => {
    expect(() => createRegistryClient({ baseUrl: 'ftp://example.invalid', apiKey: API_KEY, timeoutMs: 1_000 })).toThrow(
      ConfigError,
    );
    expect(() => createRegistryClient({ baseUrl: simulator.url, apiKey: API_KEY, timeoutMs: 0 })).toThrow(ConfigError);
  });

  test('responses breaking the contract are typed errors', async () => {
    let reply: { status: number; contentType: string; body: string } = {
      status: 200,
      contentType: 'application/json',
      body: JSON.stringify({ registered: 'yes' }),
    };
    const fake: Server = createServer((_req, res) => {
      res.writeHead(reply.status, { 'content-type': reply.contentType }).end(reply.body);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const { port } = fake.address() as AddressInfo;
    const registry = createRegistryClient({ baseUrl: `http://127.0.0.1:${port}/`, apiKey: API_KEY, timeoutMs: 2_000 });

    try {
      const badShape = await failureOf(registry.getVolunteerStatus(INSURED_REF));
      expect(badShape).toBeInstanceOf(RegistryResponseError);
      expect((badShape as RegistryResponseError).retryable).toBe(false);
      expect((badShape as RegistryResponseError).message).toContain('body.registered');

      reply = { status: 502, contentType: 'text/html', body: '<html>Bad Gateway</html>' };
      const gateway = await failureOf(registry.getVolunteerStatus(INSURED_REF));
      expect(gateway).toBeInstanceOf(RegistryServerError);
      expect((gateway as RegistryServerError).code).toBe('unknown');
      expect((gateway as RegistryServerError).retryable).toBe(true);

      // A 404 without the registry's not-found code means a wrong base URL, not a missing record.
      reply = { status: 404, contentType: 'text/plain', body: 'Not Found' };
      const wrongBase = await failureOf(registry.getServiceRecord('order-60'));
      expect(wrongBase).toBeInstanceOf(RegistryRequestError);
      expect((wrongBase as RegistryRequestError).status).toBe(404);
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });
});

describe('simulator input validation', () => {
  test('names each invalid body field', async () => {
    const response = await simRequest('PUT', '/api/v1/service-records/order-70', {
      volunteerRef: INSURED_REF,
      serviceItem: 'Emotional Comfort',
      place: { districtCode: '110105', streetCode: '110105001', address: 'No. 1 Example Road' },
      startedAt: '2024-05-01 09:00',
      endedAt: '2024-05-01T11:00:00+08:00',
    });
    expect(response.status).toBe(400);
    expect(response.body.code).toBe('validation_failed');
    expect(response.body.errors.map((e: { field: string }) => e.field).sort()).toEqual([
      'body.minutes',
      'body.place.address',
      'body.serviceItem',
      'body.startedAt',
    ]);
  });

  test('checks minutes against the span', async () => {
    const response = await simRequest(
      'PUT',
      '/api/v1/service-records/order-71',
      serviceRecord({ endedAt: '2024-05-01T02:00:00Z', minutes: 61 }),
    );
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual([
      {
        field: 'body.minutes',
        message: 'body.minutes: must not exceed the 60 whole minutes between startedAt and endedAt',
      },
    ]);
  });

  test('checks the street belongs to the district', async () => {
    const response = await simRequest(
      'PUT',
      '/api/v1/service-records/order-72',
      serviceRecord({ place: { districtCode: '110105', streetCode: '110101001' } }),
    );
    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('body.place.streetCode');
  });

  test('rejects empty claim description', async () => {
    const response = await simRequest('PUT', '/api/v1/claims/claim-73', claim('order-73', { description: '   ' }));
    expect(response.status).toBe(400);
    expect(response.body.errors[0].field).toBe('body.description');
  });

  test('rejects unreadable requests without 500', async () => {
    const malformed = await simRequest('PUT', '/api/v1/service-records/order-74', '{"volunteerRef":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('malformed_json');

    const plainText = await simRequest('PUT', '/api/v1/service-records/order-74', 'minutes=5', {
      'content-type': 'text/plain',
    });
    expect(plainText.status).toBe(415);

    const badPercent = await simRequest('GET', '/api/v1/service-records/%E0%A4%A');
    expect(badPercent.status).toBe(400);
    expect(badPercent.body.errors[0].field).toBe('params');

    const longClaim = claim('order-74', { description: 'x'.repeat(70_000) });
    const oversized = await simRequest('PUT', '/api/v1/claims/claim-74', longClaim);
    expect(oversized.status).toBe(413);
    expect(oversized.body.code).toBe('payload_too_large');

    const badId = await simRequest('GET', '/api/v1/claims/..%2Fsecrets');
    expect(badId.status).toBe(400);
    expect(badId.body.errors[0].field).toBe('params.claimId');

    const unknownRoute = await simRequest('DELETE', '/api/v1/claims/claim-74');
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.body.code).toBe('route_not_found');

    const arrayBody = await simRequest('PUT', '/api/v1/claims/claim-74', [1, 2]);
    expect(arrayBody.status).toBe(400);
  });

  test('requires the API key', async () => {
    const response = await fetch(`${simulator.url}/_sim/stats`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toContain('Bearer');
  });
});

describe('registry client configuration', () => {
  test('is off without URL and key', () => {
    expect(loadRegistryClientConfig({})).toBeUndefined();
  });

  test('reads URL, key and timeout', () => {
    expect(
      loadRegistryClientConfig({
        REGISTRY_URL: 'http://127.0.0.1:4100',
        REGISTRY_API_KEY: API_KEY,
        REGISTRY_TIMEOUT_MS: '2500',
      }),
    ).toEqual({ baseUrl: 'http://127.0.0.1:4100', apiKey: API_KEY, timeoutMs: 2500 });
  });

  test('rejects a URL without a key', () => {
    expect(() => loadRegistryClientConfig({ REGISTRY_URL: 'http://127.0.0.1:4100' })).toThrow(ConfigError);
  });

  test('rejects a short key', () => {
    expect(() =>
      loadRegistryClientConfig({ REGISTRY_URL: 'http://127.0.0.1:4100', REGISTRY_API_KEY: 'short' }),
    ).toThrow(/REGISTRY_API_KEY/);
  });
});
