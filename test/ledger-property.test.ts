import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import {
  checkLedger,
  LedgerError,
  postReservationIn,
  postTransfer,
  reserve,
  TransferKind,
  TransferRequest,
  voidReservationIn,
} from '../db/ledger';
import { grantAccountId, welfareAccountId } from '../db/reference';
import { createTestDatabase, TestDatabase } from './support/db';
import { DISTRICT, insertPerson } from './support/fixtures';

/*
 * Model-based property test of the ledger under concurrency. Each fast-check
 * run starts CLIENTS clients that apply random operations at the same time.
 * Every client owns a few personal accounts that only it debits, so the model
 * predicts the outcome of each operation on them exactly. All clients also
 * share two hot personal accounts, the district grant account and the district
 * welfare account. Whether a debit of a shared account succeeds depends on the
 * commit order, so the client records the outcome it observed and the model
 * applies it. Sums commute, so after each batch every balance, hold, version
 * and transfer count in the database must equal the model exactly, and every
 * ledger invariant must hold.
 */

const TOTAL_OPS = Number(process.env.LEDGER_PROPERTY_OPS ?? 10_000);
const RUNS = Number(process.env.LEDGER_PROPERTY_RUNS ?? 10);
const CLIENTS = 8;
const BATCHES_PER_RUN = 5;
const OPS_PER_CLIENT_BATCH = Math.max(1, Math.ceil(TOTAL_OPS / (RUNS * CLIENTS * BATCHES_PER_RUN)));
const OWN_ACCOUNTS = 3;
const HOT_ACCOUNTS = 2;
/** Served time may exceed the booking by this many minutes. */
const SERVED_ALLOWANCE = 30;

const GRANT = grantAccountId(DISTRICT);
const WELFARE = welfareAccountId(DISTRICT);

type Variant = 'same' | 'amount' | 'credit' | 'transferId';

/** A random operation. Account numbers index the client's own accounts followed by the hot ones. */
type Op =
  | { type: 'grant'; to: number; amount: number }
  | { type: 'gift'; from: number; to: number; amount: number }
  | { type: 'donate'; from: number; amount: number }
  | { type: 'allocate'; to: number; amount: number }
  | { type: 'reserve'; account: number; amount: number }
  | { type: 'post'; pick: number; served: number; credit: number; variant: Variant }
  | { type: 'void'; pick: number }
  | { type: 'retryTransfer'; pick: number; variant: 'same' | 'amount' | 'credit' }
  | { type: 'retryReserve'; pick: number; variant: 'same' | 'amount' };

const PERSONAL_COUNT = OWN_ACCOUNTS + HOT_ACCOUNTS;
const accountIndex = fc.integer({ min: 0, max: PERSONAL_COUNT - 1 });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ type: fc.constant('grant' as const), to: accountIndex, amount: fc.integer({ min: 1, max: 600 }) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('gift' as const),
      from: accountIndex,
      to: accountIndex,
      amount: fc.integer({ min: 1, max: 300 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('donate' as const), from: accountIndex, amount: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('allocate' as const), to: accountIndex, amount: fc.integer({ min: 1, max: 200 }) }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('reserve' as const), account: accountIndex, amount: fc.integer({ min: 1, max: 240 }) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('post' as const),
      pick: fc.nat(),
      served: fc.nat(),
      credit: accountIndex,
      variant: fc.constantFrom<Variant>('same', 'same', 'amount', 'credit', 'transferId'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('void' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      type: fc.constant('retryTransfer' as const),
      pick: fc.nat(),
      variant: fc.constantFrom('same' as const, 'amount' as const, 'credit' as const),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('retryReserve' as const), pick: fc.nat(), variant: fc.constantFrom('same' as const, 'amount' as const) }),
  },
);

interface ReservationModel {
  id: string;
  accountId: string;
  amount: number;
  status: 'pending' | 'posted' | 'voided';
  /** The request that posted it, for retries. */
  post?: { served: number; creditAccountId: string; transferId: string; postedAmount: number };
}

/** Balances, reserved amounts and entry counts that the database must match after each batch. */
class RunModel {
  readonly balance = new Map<string, number>();
  readonly reserved = new Map<string, number>();
  readonly version = new Map<string, number>();
  transfers = 0;

  constructor(readonly prefix: string, accounts: string[]) {
    for (const id of accounts) {
      this.balance.set(id, 0);
      this.reserved.set(id, 0);
      this.version.set(id, 0);
    }
  }

  available(id: string): number {
    return this.balance.get(id)! - this.reserved.get(id)!;
  }

  applyTransfer(debit: string, credit: string, amount: number): void {
    this.balance.set(debit, this.balance.get(debit)! - amount);
    this.balance.set(credit, this.balance.get(credit)! + amount);
    this.version.set(debit, this.version.get(debit)! + 1);
    this.version.set(credit, this.version.get(credit)! + 1);
    this.transfers += 1;
  }

  hold(id: string, delta: number): void {
    this.reserved.set(id, this.reserved.get(id)! + delta);
  }
}

type Outcome = 'ok' | 'insufficient';

let db: TestDatabase;
let personId: string;
let executedOps = 0;
let runCounter = 0;
/** How often each kind of result occurred, to show that every path was exercised. */
const tally = new Map<string, number>();

function count(key: string): void {
  tally.set(key, (tally.get(key) ?? 0) + 1);
}

beforeAll(async () => {
  db = await createTestDatabase();
  personId = (await insertPerson(db.orm)).id;
});

afterAll(async () => {
  await db?.drop();
});

function errorCode(err: unknown): string {
  if (err instanceof LedgerError) return err.code;
  throw err;
}

/** Runs `action` and returns 'ok' or 'insufficient'; any other error fails the test. */
async function attempt(action: () => Promise<unknown>): Promise<Outcome> {
  try {
    await action();
    return 'ok';
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'INSUFFICIENT_BALANCE') throw err;
    return 'insufficient';
  }
}

/** Expects `action` to raise LedgerError `code`; `kind` names the operation in the tally. */
async function expectRejection(kind: string, op: string, code: string, action: () => Promise<unknown>): Promise<void> {
  count(`${kind} ${code}`);
  let caught: unknown;
  try {
    await action();
  } catch (err) {
    caught = err;
  }
  expect({ op, code: caught === undefined ? 'no error' : errorCode(caught) }).toEqual({ op, code });
}

/** One of the concurrent clients of a run, with its own accounts and its own history. */
class ClientRunner {
  readonly own: string[];
  readonly personal: string[];
  readonly transfers: TransferRequest[] = [];
  readonly reservations: ReservationModel[] = [];
  private sequence = 0;

  constructor(
    readonly name: string,
    readonly model: RunModel,
    hot: string[],
  ) {
    this.own = Array.from({ length: OWN_ACCOUNTS }, (_, i) => `${name}:own${i}`);
    this.personal = [...this.own, ...hot];
  }

  private nextId(kind: string): string {
    this.sequence += 1;
    return `${this.name}:${kind}${this.sequence}`;
  }

  private isOwn(accountId: string): boolean {
    return this.own.includes(accountId);
  }

  /** Returns the personal account at `index`, skipping `avoid` so debit and credit differ. */
  private other(index: number, avoid: string): string {
    const id = this.personal[index % this.personal.length];
    return id === avoid ? this.personal[(index + 1) % this.personal.length] : id;
  }

  /** Predicts a debit of `amount`: exact on own accounts, unknown on shared ones. */
  private predict(debit: string, amount: number): Outcome | 'either' {
    if (!this.isOwn(debit)) return 'either';
    return this.model.available(debit) >= amount ? 'ok' : 'insufficient';
  }

  async run(ops: Op[]): Promise<void> {
    for (const op of ops) {
      await this.apply(op);
      executedOps += 1;
    }
  }

  private async transfer(kind: TransferKind, debit: string, credit: string, amount: number, label: string): Promise<void> {
    const request: TransferRequest = { id: this.nextId('t'), kind, debitAccountId: debit, creditAccountId: credit, amount };
    const expected = debit === GRANT ? 'ok' : this.predict(debit, amount);
    let replayed: boolean | undefined;
    const outcome = await attempt(async () => {
      replayed = (await postTransfer(db.orm.em.fork(), request)).replayed;
    });
    if (expected !== 'either') expect({ op: label, outcome }).toEqual({ op: label, outcome: expected });
    count(`transfer ${outcome}${expected === 'either' ? ' (shared debit)' : ''}`);
    if (outcome === 'ok') {
      expect(replayed).toBe(false);
      this.model.applyTransfer(debit, credit, amount);
      this.transfers.push(request);
    }
  }

  private async apply(op: Op): Promise<void> {
    const label = `${this.name} ${JSON.stringify(op)}`;
    switch (op.type) {
      case 'grant':
        return this.transfer('grant', GRANT, this.personal[op.to], op.amount, label);
      case 'gift': {
        const from = this.personal[op.from];
        return this.transfer('gift', from, this.other(op.to, from), op.amount, label);
      }
      case 'donate':
        return this.transfer('donation', this.personal[op.from], WELFARE, op.amount, label);
      case 'allocate':
        return this.transfer('welfare_allocation', WELFARE, this.personal[op.to], op.amount, label);
      case 'reserve':
        return this.reserve(this.personal[op.account], op.amount, label);
      case 'post':
        return this.post(op, label);
      case 'void':
        return this.void(op.pick, label);
      case 'retryTransfer':
        return this.retryTransfer(op.pick, op.variant, label);
      case 'retryReserve':
        return this.retryReserve(op.pick, op.variant, label);
    }
  }

  private async reserve(accountId: string, amount: number, label: string): Promise<void> {
    const id = this.nextId('r');
    const expected = this.predict(accountId, amount);
    let replayed: boolean | undefined;
    const outcome = await attempt(async () => {
      replayed = (await reserve(db.orm.em.fork(), { id, kind: 'order', accountId, amount })).replayed;
    });
    if (expected !== 'either') expect({ op: label, outcome }).toEqual({ op: label, outcome: expected });
    count(`reserve ${outcome}`);
    if (outcome === 'ok') {
      expect(replayed).toBe(false);
      this.model.hold(accountId, amount);
      this.reservations.push({ id, accountId, amount, status: 'pending' });
    }
  }

  /** Picks a reservation of this client; with none yet it makes one so the operation still counts. */
  private async pickReservation(pick: number, label: string): Promise<ReservationModel | undefined> {
    if (this.reservations.length === 0) {
      await this.transfer('grant', GRANT, this.own[0], 120, `${label} (funding)`);
      await this.reserve(this.own[0], 60, `${label} (first reservation)`);
    }
    return this.reservations[pick % this.reservations.length];
  }

  private postReservation(r: ReservationModel, served: number, creditAccountId: string, transferId: string) {
    return db.orm.em.fork().transactional((tx) =>
      postReservationIn(tx, { reservationId: r.id, amount: served, creditAccountId, transferId, kind: 'order_settlement' }),
    );
  }

  private async post(op: Extract<Op, { type: 'post' }>, label: string): Promise<void> {
    const r = (await this.pickReservation(op.pick, label))!;
    if (r.status === 'voided') {
      await expectRejection('post', label, 'RESERVATION_RESOLVED', () =>
        this.postReservation(r, 0, this.other(op.credit, r.accountId), `${r.id}:settlement`),
      );
      return;
    }
    if (r.status === 'posted') {
      const first = r.post!;
      let served = first.served;
      let credit = first.creditAccountId;
      let transferId = first.transferId;
      if (op.variant === 'amount') served += 1;
      if (op.variant === 'credit') credit = this.other(this.personal.indexOf(credit) + 1, r.accountId);
      if (op.variant === 'transferId') transferId = `${transferId}:other`;
      if (op.variant === 'same') {
        count('post replayed');
        const result = await this.postReservation(r, served, credit, transferId);
        expect({ op: label, replayed: result.replayed, postedAmount: result.postedAmount }).toEqual({
          op: label,
          replayed: true,
          postedAmount: first.postedAmount,
        });
      } else {
        await expectRejection(`post (other ${op.variant})`, label, 'IDEMPOTENCY_CONFLICT', () =>
          this.postReservation(r, served, credit, transferId),
        );
      }
      return;
    }

    const served = op.served % (r.amount + SERVED_ALLOWANCE + 1);
    const credit = this.other(op.credit, r.accountId);
    const transferId = `${r.id}:settlement`;
    const availableAfterRelease = this.model.available(r.accountId) + r.amount;
    const result = await this.postReservation(r, served, credit, transferId);
    count(result.postedAmount < served ? 'post capped' : 'post ok');
    expect(result.replayed).toBe(false);
    if (this.isOwn(r.accountId)) {
      expect({ op: label, postedAmount: result.postedAmount }).toEqual({
        op: label,
        postedAmount: Math.min(served, Math.max(0, availableAfterRelease)),
      });
    } else {
      // On a shared account only the bounds are known: the hold itself always covers min(served, reserved).
      expect(result.postedAmount).toBeGreaterThanOrEqual(Math.min(served, r.amount));
      expect(result.postedAmount).toBeLessThanOrEqual(served);
    }
    this.model.hold(r.accountId, -r.amount);
    if (result.postedAmount > 0) this.model.applyTransfer(r.accountId, credit, result.postedAmount);
    r.status = 'posted';
    r.post = { served, creditAccountId: credit, transferId, postedAmount: result.postedAmount };
  }

  private async void(pick: number, label: string): Promise<void> {
    const r = (await this.pickReservation(pick, label))!;
    const action = () => db.orm.em.fork().transactional((tx) => voidReservationIn(tx, r.id));
    if (r.status === 'posted') {
      await expectRejection('void', label, 'RESERVATION_RESOLVED', action);
      return;
    }
    count(r.status === 'voided' ? 'void replayed' : 'void ok');
    const result = await action();
    expect({ op: label, replayed: result.replayed }).toEqual({ op: label, replayed: r.status === 'voided' });
    if (r.status === 'pending') {
      this.model.hold(r.accountId, -r.amount);
      r.status = 'voided';
    }
  }

  private async retryTransfer(pick: number, variant: 'same' | 'amount' | 'credit', label: string): Promise<void> {
    if (this.transfers.length === 0) {
      await this.transfer('grant', GRANT, this.own[0], 60, `${label} (nothing to retry yet)`);
      return;
    }
    const original = this.transfers[pick % this.transfers.length];
    if (variant === 'same') {
      count('transfer retry replayed');
      const result = await postTransfer(db.orm.em.fork(), original);
      expect({ op: label, replayed: result.replayed }).toEqual({ op: label, replayed: true });
      return;
    }
    const changed = { ...original };
    if (variant === 'amount') changed.amount += 1;
    if (variant === 'credit') {
      if (original.kind === 'donation') changed.creditAccountId = 'welfare:city';
      else changed.creditAccountId = this.other(this.personal.indexOf(original.creditAccountId) + 1, original.debitAccountId);
    }
    await expectRejection(`transfer retry (other ${variant})`, label, 'IDEMPOTENCY_CONFLICT', () =>
      postTransfer(db.orm.em.fork(), changed),
    );
  }

  private async retryReserve(pick: number, variant: 'same' | 'amount', label: string): Promise<void> {
    const r = (await this.pickReservation(pick, label))!;
    const request = { id: r.id, kind: 'order' as const, accountId: r.accountId, amount: r.amount + (variant === 'amount' ? 1 : 0) };
    if (variant === 'same') {
      count('reserve retry replayed');
      const result = await reserve(db.orm.em.fork(), request);
      expect({ op: label, replayed: result.replayed }).toEqual({ op: label, replayed: true });
    } else {
      await expectRejection('reserve retry (other amount)', label, 'IDEMPOTENCY_CONFLICT', () => reserve(db.orm.em.fork(), request));
    }
  }
}

interface AccountState {
  balance: number;
  reserved: number;
  version: number;
}

async function readAccounts(ids: string[]): Promise<Record<string, AccountState>> {
  const rows = await db.orm.em
    .fork()
    .execute<Array<{ id: string; balance: string; reserved: string; version: string }>>(
      `select id, balance, reserved, version from account where id = any(string_to_array(?, ','))`,
      [ids.join(',')],
    );
  return Object.fromEntries(rows.map((r) => [r.id, { balance: Number(r.balance), reserved: Number(r.reserved), version: Number(r.version) }]));
}

async function queryIds(sql: string, params: unknown[] = []): Promise<string[]> {
  const rows = await db.orm.em.fork().execute<Array<{ id: string }>>(sql, params);
  return rows.map((r) => r.id);
}

/** Checks every ledger invariant over the whole database with queries of its own, and checkLedger. */
async function expectInvariants(): Promise<void> {
  expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);

  const [sum] = await db.orm.em.fork().execute<Array<{ total: string }>>(`select coalesce(sum(balance), 0)::text as total from account`);
  expect(sum.total).toBe('0');

  const overdrawn = await queryIds(`select id from account where kind <> 'grant' and balance - reserved < 0`);
  expect(overdrawn).toEqual([]);

  const balanceNotSumOfEntries = await queryIds(`
    select a.id from account a left join (select account_id, sum(amount) as total from entry group by account_id) e
      on e.account_id = a.id
    where a.balance <> coalesce(e.total, 0)`);
  expect(balanceNotSumOfEntries).toEqual([]);

  const versionGaps = await queryIds(`
    select a.id from account a
    left join (select account_id, count(*) as n, min(version) as low, max(version) as high from entry group by account_id) e
      on e.account_id = a.id
    where a.version <> coalesce(e.n, 0) or coalesce(e.high, 0) <> coalesce(e.n, 0) or coalesce(e.low, 1) <> 1`);
  expect(versionGaps).toEqual([]);

  const wrongRunningBalance = await queryIds(`
    select account_id || '#' || version as id from (
      select account_id, version, balance_after, sum(amount) over (partition by account_id order by version) as running
      from entry) e
    where running <> balance_after`);
  expect(wrongRunningBalance).toEqual([]);

  const unbalancedTransfers = await queryIds(`
    select t.id from transfer t left join entry e on e.transfer_id = t.id
    group by t.id, t.amount, t.debit_account_id, t.credit_account_id
    having count(e.*) <> 2
        or coalesce(sum(e.amount) filter (where e.account_id = t.debit_account_id), 0) <> -t.amount
        or coalesce(sum(e.amount) filter (where e.account_id = t.credit_account_id), 0) <> t.amount`);
  expect(unbalancedTransfers).toEqual([]);

  const wrongHolds = await queryIds(`
    select a.id from account a
    left join (select account_id, sum(amount) as pending from reservation where status = 'pending' group by account_id) r
      on r.account_id = a.id
    where a.reserved <> coalesce(r.pending, 0)`);
  expect(wrongHolds).toEqual([]);
}

/** Orders rows by id in code-unit order, which the database's collation may not follow. */
function compareIds(a: { id: string }, b: { id: string }): number {
  if (a.id < b.id) return -1;
  if (a.id > b.id) return 1;
  return 0;
}

/** Compares the run's accounts, transfers and reservations with the model. */
async function expectModel(model: RunModel, clients: ClientRunner[], shared: Record<string, AccountState>): Promise<void> {
  const expected: Record<string, AccountState> = {};
  for (const id of model.balance.keys()) {
    expected[id] = { balance: model.balance.get(id)!, reserved: model.reserved.get(id)!, version: model.version.get(id)! };
  }
  for (const [id, base] of Object.entries(shared)) {
    expected[id] = {
      balance: base.balance + expected[id].balance,
      reserved: base.reserved + expected[id].reserved,
      version: base.version + expected[id].version,
    };
  }
  expect(await readAccounts([...model.balance.keys()])).toEqual(expected);

  const [transfers] = await db.orm.em
    .fork()
    .execute<Array<{ n: string }>>(`select count(*) as n from transfer where id like ?`, [`${model.prefix}%`]);
  expect(Number(transfers.n)).toBe(model.transfers);

  const reservations = await db.orm.em
    .fork()
    .execute<Array<{ id: string; status: string; posted_amount: string | null }>>(
      `select id, status, posted_amount from reservation where id like ?`,
      [`${model.prefix}%`],
    );
  const expectedReservations = clients
    .flatMap((c) => c.reservations)
    .map((r) => ({ id: r.id, status: r.status, posted_amount: r.post ? String(r.post.postedAmount) : null }))
    .sort(compareIds);
  expect(reservations.map((r) => ({ ...r })).sort(compareIds)).toEqual(expectedReservations);
}

async function createRunAccounts(prefix: string): Promise<{ hot: string[]; clientNames: string[]; all: string[] }> {
  const hot = Array.from({ length: HOT_ACCOUNTS }, (_, i) => `${prefix}hot${i}`);
  const clientNames = Array.from({ length: CLIENTS }, (_, i) => `${prefix}c${i}`);
  const personal = [...hot, ...clientNames.flatMap((name) => Array.from({ length: OWN_ACCOUNTS }, (_, i) => `${name}:own${i}`))];
  await db.orm.em
    .fork()
    .execute(`insert into account (id, kind, person_id) select unnest(string_to_array(?, ',')), 'personal', ?`, [
      personal.join(','),
      personId,
    ]);
  return { hot, clientNames, all: personal };
}

/** Runs one fast-check case: CLIENTS clients, each applying its operations batch by batch. */
async function runCase(programs: Op[][]): Promise<void> {
  runCounter += 1;
  const prefix = `prop:${runCounter}-${randomBytes(3).toString('hex')}:`;
  const { hot, clientNames, all } = await createRunAccounts(prefix);
  const shared = await readAccounts([GRANT, WELFARE]);
  const model = new RunModel(prefix, [...all, GRANT, WELFARE]);
  const clients = clientNames.map((name) => new ClientRunner(name, model, hot));

  for (let batch = 0; batch < BATCHES_PER_RUN; batch += 1) {
    const from = batch * OPS_PER_CLIENT_BATCH;
    await Promise.all(clients.map((client, i) => client.run(programs[i].slice(from, from + OPS_PER_CLIENT_BATCH))));
    await expectInvariants();
    await expectModel(model, clients, shared);
  }
}

jest.setTimeout(900_000);

test('concurrent ledger matches its model', async () => {
  const programs = fc.array(fc.array(opArbitrary, { minLength: OPS_PER_CLIENT_BATCH * BATCHES_PER_RUN, maxLength: OPS_PER_CLIENT_BATCH * BATCHES_PER_RUN }), {
    minLength: CLIENTS,
    maxLength: CLIENTS,
  });
  // Shrinking would replay thousands of concurrent operations per attempt, and a
  // failure that depends on timing may not repeat, so the first failure ends the
  // run and the report carries the failed check instead of the whole program.
  await fc.assert(fc.asyncProperty(programs, runCase), {
    numRuns: RUNS,
    endOnFailure: true,
    seed: process.env.LEDGER_PROPERTY_SEED ? Number(process.env.LEDGER_PROPERTY_SEED) : undefined,
    reporter: (details) => {
      if (!details.failed) return;
      const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
      throw new Error(
        `ledger property failed in run ${details.numRuns} of ${RUNS}; rerun the same programs with ` +
          `LEDGER_PROPERTY_SEED=${details.seed}\n${cause}`,
      );
    },
  });
  expect(executedOps).toBeGreaterThanOrEqual(TOTAL_OPS);
  if (process.env.LEDGER_PROPERTY_VERBOSE === '1') {
    process.stderr.write(`${executedOps} operations: ${JSON.stringify(Object.fromEntries([...tally].sort()), null, 1)}\n`);
  }
});

test('every outcome was exercised', () => {
  const expectedKeys = [
    'transfer ok',
    'transfer insufficient',
    'transfer ok (shared debit)',
    'reserve ok',
    'reserve insufficient',
    'post ok',
    'post capped',
    'post replayed',
    'post RESERVATION_RESOLVED',
    'post (other amount) IDEMPOTENCY_CONFLICT',
    'post (other credit) IDEMPOTENCY_CONFLICT',
    'post (other transferId) IDEMPOTENCY_CONFLICT',
    'void ok',
    'void replayed',
    'void RESERVATION_RESOLVED',
    'transfer retry replayed',
    'transfer retry (other amount) IDEMPOTENCY_CONFLICT',
    'transfer retry (other credit) IDEMPOTENCY_CONFLICT',
    'reserve retry replayed',
    'reserve retry (other amount) IDEMPOTENCY_CONFLICT',
  ];
  const missing = expectedKeys.filter((key) => !tally.has(key));
  expect(missing).toEqual([]);
});
