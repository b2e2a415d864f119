import { randomUUID } from 'node:crypto';
import {
  checkLedger,
  getBalance,
  LedgerError,
  LedgerErrorCode,
  postReservationIn,
  postTransfer,
  reserve,
  TransferKind,
  voidReservationIn,
} from '../db/ledger';
import { grantAccountId, personalAccountId, welfareAccountId } from '../db/reference';
import { createTestDatabase, TestDatabase } from './support/db';
import { DISTRICT, fund, insertPerson } from './support/fixtures';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
});

const GRANT = grantAccountId(DISTRICT);
const WELFARE = welfareAccountId(DISTRICT);
const CARE_HOME = 'care_home:city';

async function newAccount(minutes = 0): Promise<string> {
  const person = await insertPerson(db.orm);
  if (minutes > 0) await fund(db.orm, person.id, minutes);
  return personalAccountId(person.id);
}

async function balanceOf(accountId: string) {
  return (await getBalance(db.orm.em.fork(), accountId))!;
}

async function expectLedgerError(promise: Promise<unknown>, code: LedgerErrorCode): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(LedgerError);
  expect((error as LedgerError).code).toBe(code);
}

async function expectDatabaseError(sql: string, params: unknown[], message: RegExp): Promise<void> {
  const error = await db.orm.em
    .fork()
    .execute(sql, params)
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  expect(error).toBeInstanceOf(Error);
  expect((error as Error).message).toMatch(message);
}

async function countRows(table: 'entry' | 'transfer'): Promise<number> {
  const [row] = await db.orm.em.fork().execute<Array<{ n: string }>>(`select count(*) as n from ${table}`);
  return Number(row.n);
}

describe('append-only tables', () => {
  beforeAll(async () => {
    await newAccount(120);
  });

  test.each([
    ['update entry', `update entry set amount = amount + 1`],
    ['delete entry', `delete from entry`],
    ['truncate entry', `truncate entry`],
    ['update transfer', `update transfer set amount = amount + 1`],
    ['delete transfer', `delete from transfer`],
    ['truncate transfer cascade', `truncate transfer cascade`],
  ])('%s is rejected', async (_name, sql) => {
    const entriesBefore = await countRows('entry');
    const transfersBefore = await countRows('transfer');
    await expectDatabaseError(sql, [], /append-only/);
    expect(await countRows('entry')).toBe(entriesBefore);
    expect(await countRows('transfer')).toBe(transfersBefore);
  });

  test('truncate transfer is rejected', async () => {
    // Without cascade PostgreSQL stops at the foreign keys before the trigger runs.
    await expectDatabaseError(`truncate transfer`, [], /foreign key|append-only/);
    expect(await countRows('transfer')).toBeGreaterThan(0);
  });

  test('entry amounts stay unchanged', async () => {
    const [before] = await db.orm.em.fork().execute<Array<{ total: string }>>(`select sum(abs(amount)) as total from entry`);
    await expectDatabaseError(`update entry set balance_after = 0`, [], /append-only/);
    const [after] = await db.orm.em.fork().execute<Array<{ total: string }>>(`select sum(abs(amount)) as total from entry`);
    expect(after.total).toBe(before.total);
    expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
  });
});

describe('reservations', () => {
  async function reserved(minutes: number) {
    const accountId = await newAccount(240);
    const credit = await newAccount();
    const id = `rules:${randomUUID()}:reservation`;
    await reserve(db.orm.em.fork(), { id, kind: 'order', accountId, amount: minutes });
    return { accountId, credit, id };
  }

  function post(id: string, credit: string, amount: number) {
    return db.orm.em.fork().transactional((tx) =>
      postReservationIn(tx, {
        reservationId: id,
        amount,
        creditAccountId: credit,
        transferId: `${id}:settlement`,
        kind: 'order_settlement',
      }),
    );
  }

  function voidReservation(id: string) {
    return db.orm.em.fork().transactional((tx) => voidReservationIn(tx, id));
  }

  test('posted reservation cannot be voided', async () => {
    const r = await reserved(60);
    await post(r.id, r.credit, 60);
    await expectLedgerError(voidReservation(r.id), 'RESERVATION_RESOLVED');
    expect(await balanceOf(r.accountId)).toMatchObject({ balance: 180, reserved: 0 });
    expect(await balanceOf(r.credit)).toMatchObject({ balance: 60 });
  });

  test('voided reservation cannot be posted', async () => {
    const r = await reserved(60);
    await voidReservation(r.id);
    await expectLedgerError(post(r.id, r.credit, 60), 'RESERVATION_RESOLVED');
    expect(await balanceOf(r.accountId)).toMatchObject({ balance: 240, reserved: 0 });
    expect(await balanceOf(r.credit)).toMatchObject({ balance: 0 });
  });

  test('second post replays the first', async () => {
    const r = await reserved(60);
    const first = await post(r.id, r.credit, 90);
    const second = await post(r.id, r.credit, 90);
    expect(first).toEqual({ id: `${r.id}:settlement`, replayed: false, postedAmount: 90 });
    expect(second).toEqual({ id: `${r.id}:settlement`, replayed: true, postedAmount: 90 });
    expect(await balanceOf(r.credit)).toMatchObject({ balance: 90 });
  });

  test('post with other amount conflicts', async () => {
    const r = await reserved(60);
    await post(r.id, r.credit, 60);
    await expectLedgerError(post(r.id, r.credit, 30), 'IDEMPOTENCY_CONFLICT');
    await expectLedgerError(post(r.id, r.credit, 90), 'IDEMPOTENCY_CONFLICT');
    expect(await balanceOf(r.credit)).toMatchObject({ balance: 60 });
  });

  test('post to other account conflicts', async () => {
    const r = await reserved(60);
    const other = await newAccount();
    await post(r.id, r.credit, 60);
    await expectLedgerError(post(r.id, other, 60), 'IDEMPOTENCY_CONFLICT');
    expect(await balanceOf(other)).toMatchObject({ balance: 0 });
  });

  test('second void is a no-op', async () => {
    const r = await reserved(60);
    const first = await voidReservation(r.id);
    const second = await voidReservation(r.id);
    expect(first.replayed).toBe(false);
    expect(second.replayed).toBe(true);
    expect(await balanceOf(r.accountId)).toMatchObject({ balance: 240, reserved: 0, available: 240 });
  });

  test('direct SQL cannot reopen one', async () => {
    const r = await reserved(60);
    await voidReservation(r.id);
    await expectDatabaseError(`update reservation set status = 'pending' where id = ?`, [r.id], /resolved only once/);
    await expectDatabaseError(`update reservation set status = 'posted' where id = ?`, [r.id], /resolved only once/);
    await expectDatabaseError(`delete from reservation where id = ?`, [r.id], /never deleted/);
  });

  test('reused reservation id conflicts', async () => {
    const r = await reserved(60);
    await expectLedgerError(
      reserve(db.orm.em.fork(), { id: r.id, kind: 'order', accountId: r.accountId, amount: 90 }),
      'IDEMPOTENCY_CONFLICT',
    );
    expect(await balanceOf(r.accountId)).toMatchObject({ reserved: 60 });
  });
});

describe('transfer kinds', () => {
  let personal: string;
  let otherPersonal: string;

  beforeAll(async () => {
    personal = await newAccount(600);
    otherPersonal = await newAccount();
  });

  const disallowed: Array<[string, TransferKind, () => string, () => string]> = [
    ['grant into welfare', 'grant', () => GRANT, () => WELFARE],
    ['donation from grant', 'donation', () => GRANT, () => WELFARE],
    ['grant from personal', 'grant', () => personal, () => otherPersonal],
    ['gift into welfare', 'gift', () => personal, () => WELFARE],
    ['gift into care home', 'gift', () => personal, () => CARE_HOME],
    ['donation into personal', 'donation', () => personal, () => otherPersonal],
    ['settlement into welfare', 'order_settlement', () => personal, () => WELFARE],
    ['allocation from personal', 'welfare_allocation', () => personal, () => otherPersonal],
    ['care home spend to personal', 'care_home_spend', () => personal, () => otherPersonal],
    ['reversal from grant', 'compensating_reversal', () => GRANT, () => personal],
    ['reversal into care home', 'compensating_reversal', () => personal, () => CARE_HOME],
  ];

  test.each(disallowed)('%s is rejected', async (_name, kind, debit, credit) => {
    const id = `rules:${randomUUID()}`;
    const before = await balanceOf(credit());
    const error = await postTransfer(db.orm.em.fork(), {
      id,
      kind,
      debitAccountId: debit(),
      creditAccountId: credit(),
      amount: 30,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/may not move coins/);
    const rows = await db.orm.em.fork().execute(`select id from transfer where id = ?`, [id]);
    expect(rows).toHaveLength(0);
    expect(await balanceOf(credit())).toEqual(before);
  });

  test('donation to welfare is accepted', async () => {
    const result = await postTransfer(db.orm.em.fork(), {
      id: `rules:${randomUUID()}`,
      kind: 'donation',
      debitAccountId: personal,
      creditAccountId: WELFARE,
      amount: 30,
    });
    expect(result.replayed).toBe(false);
    expect(await balanceOf(personal)).toMatchObject({ balance: 570 });
  });

  test('transfer to same account is rejected', async () => {
    const error = await postTransfer(db.orm.em.fork(), {
      id: `rules:${randomUUID()}`,
      kind: 'gift',
      debitAccountId: personal,
      creditAccountId: personal,
      amount: 30,
    }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(Error);
  });

  test.each([0, -30, 1.5])('amount %p is rejected', async (amount) => {
    await expectLedgerError(
      postTransfer(db.orm.em.fork(), {
        id: `rules:${randomUUID()}`,
        kind: 'gift',
        debitAccountId: personal,
        creditAccountId: otherPersonal,
        amount,
      }),
      'INVALID_AMOUNT',
    );
  });
});

describe('idempotency keys', () => {
  test('same key and content replays', async () => {
    const from = await newAccount(120);
    const to = await newAccount();
    const request = { id: `rules:${randomUUID()}`, kind: 'gift' as const, debitAccountId: from, creditAccountId: to, amount: 60 };
    const first = await postTransfer(db.orm.em.fork(), request);
    const second = await postTransfer(db.orm.em.fork(), request);
    expect(first.replayed).toBe(false);
    expect(second.replayed).toBe(true);
    expect(await balanceOf(to)).toMatchObject({ balance: 60 });
  });

  test('reused key with other amount', async () => {
    const from = await newAccount(120);
    const to = await newAccount();
    const request = { id: `rules:${randomUUID()}`, kind: 'gift' as const, debitAccountId: from, creditAccountId: to, amount: 60 };
    await postTransfer(db.orm.em.fork(), request);
    await expectLedgerError(postTransfer(db.orm.em.fork(), { ...request, amount: 30 }), 'IDEMPOTENCY_CONFLICT');
    expect(await balanceOf(from)).toMatchObject({ balance: 60 });
    expect(await balanceOf(to)).toMatchObject({ balance: 60 });
  });

  test('reused key with other receiver', async () => {
    const from = await newAccount(120);
    const to = await newAccount();
    const other = await newAccount();
    const request = { id: `rules:${randomUUID()}`, kind: 'gift' as const, debitAccountId: from, creditAccountId: to, amount: 60 };
    await postTransfer(db.orm.em.fork(), request);
    await expectLedgerError(postTransfer(db.orm.em.fork(), { ...request, creditAccountId: other }), 'IDEMPOTENCY_CONFLICT');
    expect(await balanceOf(other)).toMatchObject({ balance: 0 });
  });
});

describe('overdraft', () => {
  test('gift above balance is rejected', async () => {
    const from = await newAccount(60);
    const to = await newAccount();
    await expectLedgerError(
      postTransfer(db.orm.em.fork(), { id: `rules:${randomUUID()}`, kind: 'gift', debitAccountId: from, creditAccountId: to, amount: 61 }),
      'INSUFFICIENT_BALANCE',
    );
    expect(await balanceOf(from)).toMatchObject({ balance: 60 });
    expect(await balanceOf(to)).toMatchObject({ balance: 0 });
  });

  test('reservations count against balance', async () => {
    const from = await newAccount(120);
    const to = await newAccount();
    await reserve(db.orm.em.fork(), { id: `rules:${randomUUID()}`, kind: 'order', accountId: from, amount: 90 });
    await expectLedgerError(
      postTransfer(db.orm.em.fork(), { id: `rules:${randomUUID()}`, kind: 'gift', debitAccountId: from, creditAccountId: to, amount: 31 }),
      'INSUFFICIENT_BALANCE',
    );
    await expectLedgerError(
      reserve(db.orm.em.fork(), { id: `rules:${randomUUID()}`, kind: 'order', accountId: from, amount: 31 }),
      'INSUFFICIENT_BALANCE',
    );
    expect(await balanceOf(from)).toMatchObject({ balance: 120, reserved: 90, available: 30 });
  });

  test('welfare account cannot overdraw', async () => {
    const to = await newAccount();
    const welfare = await balanceOf(WELFARE);
    await expectLedgerError(
      postTransfer(db.orm.em.fork(), {
        id: `rules:${randomUUID()}`,
        kind: 'welfare_allocation',
        debitAccountId: WELFARE,
        creditAccountId: to,
        amount: welfare.available + 1,
      }),
      'INSUFFICIENT_BALANCE',
    );
    expect(await balanceOf(WELFARE)).toEqual(welfare);
  });

  test('direct SQL overdraft is rejected', async () => {
    const account = await newAccount(60);
    await expectDatabaseError(`update account set reserved = 61 where id = ?`, [account], /check constraint/);
    expect(await balanceOf(account)).toMatchObject({ balance: 60, reserved: 0 });
  });
});

describe('grant account', () => {
  test('grant account may go negative', async () => {
    const before = await balanceOf(GRANT);
    const to = await newAccount();
    const amount = Math.max(0, before.balance) + 600;
    await postTransfer(db.orm.em.fork(), { id: `rules:${randomUUID()}`, kind: 'grant', debitAccountId: GRANT, creditAccountId: to, amount });
    const after = await balanceOf(GRANT);
    expect(after.balance).toBe(before.balance - amount);
    expect(after.balance).toBeLessThan(0);
    expect(await balanceOf(to)).toMatchObject({ balance: amount });
    expect((await checkLedger(db.orm.em.fork())).problems).toEqual([]);
  });
});
