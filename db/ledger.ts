import { createHash } from 'node:crypto';
import { EntityManager } from '@mikro-orm/postgresql';

/*
 * The coin ledger. Amounts are integer minutes (1 coin = 60 minutes).
 *
 * Concurrency: every operation runs in one READ COMMITTED transaction and
 * takes row locks (SELECT ... FOR UPDATE) on the accounts it touches, always in
 * ascending id order, so two transfers over the same accounts serialize and
 * cannot deadlock. Idempotency: each transfer and reservation id is a business
 * key; the same key with the same content returns the first result, with other
 * content it is rejected.
 */

export type TransferKind =
  | 'order_settlement'
  | 'gift'
  | 'donation'
  | 'welfare_allocation'
  | 'grant'
  | 'care_home_spend'
  | 'compensating_reversal';

export type LedgerErrorCode =
  | 'ACCOUNT_NOT_FOUND'
  | 'INSUFFICIENT_BALANCE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'RESERVATION_NOT_FOUND'
  | 'RESERVATION_RESOLVED'
  | 'INVALID_AMOUNT';

export class LedgerError extends Error {
  constructor(
    readonly code: LedgerErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LedgerError';
  }
}

export interface TransferRequest {
  id: string;
  kind: TransferKind;
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
  orderId?: string;
  memo?: string;
}

export interface TransferResult {
  id: string;
  replayed: boolean;
}

export interface Balance {
  accountId: string;
  balance: number;
  reserved: number;
  available: number;
}

interface AccountRow {
  id: string;
  kind: string;
  balance: string;
  reserved: string;
  version: string;
}

function hashContent(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

function assertAmount(amount: number): void {
  if (!Number.isSafeInteger(amount) || amount <= 0) {
    throw new LedgerError('INVALID_AMOUNT', `amount must be a positive whole number of minutes, got ${amount}`, {
      amount,
    });
  }
}

async function lockAccounts(tx: EntityManager, ids: string[]): Promise<Map<string, AccountRow>> {
  const sorted = [...new Set(ids)].sort();
  const rows = await tx.execute<AccountRow[]>(
    `select id, kind, balance, reserved, version from account where id in (${sorted.map(() => '?').join(',')})
     order by id for update`,
    sorted,
  );
  const byId = new Map(rows.map((r) => [r.id, r]));
  for (const id of sorted) {
    if (!byId.has(id)) {
      throw new LedgerError('ACCOUNT_NOT_FOUND', `account ${id} does not exist`, { accountId: id });
    }
  }
  return byId;
}

function available(row: AccountRow): number {
  return Number(row.balance) - Number(row.reserved);
}

async function postEntries(
  tx: EntityManager,
  transferId: string,
  debit: AccountRow,
  credit: AccountRow,
  amount: number,
): Promise<void> {
  const legs: Array<[AccountRow, number]> = [
    [debit, -amount],
    [credit, amount],
  ];
  for (const [account, delta] of legs) {
    const version = Number(account.version) + 1;
    const balanceAfter = Number(account.balance) + delta;
    await tx.execute(
      `insert into entry (account_id, version, transfer_id, amount, balance_after) values (?, ?, ?, ?, ?)`,
      [account.id, version, transferId, delta, balanceAfter],
    );
    await tx.execute(`update account set balance = ?, version = ? where id = ?`, [balanceAfter, version, account.id]);
    account.balance = String(balanceAfter);
    account.version = String(version);
  }
}

/** Posts a transfer inside the caller's transaction. */
export async function postTransferIn(tx: EntityManager, req: TransferRequest): Promise<TransferResult> {
  assertAmount(req.amount);
  const content = {
    kind: req.kind,
    debit: req.debitAccountId,
    credit: req.creditAccountId,
    amount: req.amount,
    orderId: req.orderId ?? null,
  };
  const requestHash = hashContent(content);
  const accounts = await lockAccounts(tx, [req.debitAccountId, req.creditAccountId]);

  const existing = await tx.execute<Array<{ request_hash: string }>>(
    `select request_hash from transfer where id = ?`,
    [req.id],
  );
  if (existing.length > 0) {
    if (existing[0].request_hash !== requestHash) {
      throw new LedgerError(
        'IDEMPOTENCY_CONFLICT',
        `transfer ${req.id} already exists with different content; use a new id for a new transfer`,
        { transferId: req.id },
      );
    }
    return { id: req.id, replayed: true };
  }

  const debit = accounts.get(req.debitAccountId)!;
  const credit = accounts.get(req.creditAccountId)!;
  if (debit.kind !== 'grant' && available(debit) < req.amount) {
    throw new LedgerError(
      'INSUFFICIENT_BALANCE',
      `account ${debit.id} has ${available(debit)} minutes available, ${req.amount} requested`,
      { accountId: debit.id, available: available(debit), requested: req.amount },
    );
  }
  await tx.execute(
    `insert into transfer (id, kind, debit_account_id, credit_account_id, amount, order_id, memo, request_hash)
     values (?, ?, ?, ?, ?, ?, ?, ?)`,
    [req.id, req.kind, debit.id, credit.id, req.amount, req.orderId ?? null, req.memo ?? null, requestHash],
  );
  await postEntries(tx, req.id, debit, credit, req.amount);
  return { id: req.id, replayed: false };
}

export async function postTransfer(em: EntityManager, req: TransferRequest): Promise<TransferResult> {
  return em.transactional((tx) => postTransferIn(tx, req));
}

export interface ReservationRequest {
  id: string;
  kind: 'order' | 'care_home';
  accountId: string;
  amount: number;
  orderId?: string;
}

/** Holds `amount` of an account's available balance until it is posted or voided. */
export async function reserveIn(tx: EntityManager, req: ReservationRequest): Promise<TransferResult> {
  assertAmount(req.amount);
  const accounts = await lockAccounts(tx, [req.accountId]);
  const existing = await tx.execute<Array<{ account_id: string; amount: string; kind: string }>>(
    `select account_id, amount, kind from reservation where id = ?`,
    [req.id],
  );
  if (existing.length > 0) {
    const row = existing[0];
    if (row.account_id !== req.accountId || Number(row.amount) !== req.amount || row.kind !== req.kind) {
      throw new LedgerError('IDEMPOTENCY_CONFLICT', `reservation ${req.id} already exists with different content`, {
        reservationId: req.id,
      });
    }
    return { id: req.id, replayed: true };
  }
  const account = accounts.get(req.accountId)!;
  if (available(account) < req.amount) {
    throw new LedgerError(
      'INSUFFICIENT_BALANCE',
      `account ${account.id} has ${available(account)} minutes available, ${req.amount} requested`,
      { accountId: account.id, available: available(account), requested: req.amount },
    );
  }
  await tx.execute(
    `insert into reservation (id, kind, account_id, amount, status, order_id) values (?, ?, ?, ?, 'pending', ?)`,
    [req.id, req.kind, req.accountId, req.amount, req.orderId ?? null],
  );
  await tx.execute(`update account set reserved = reserved + ? where id = ?`, [req.amount, req.accountId]);
  return { id: req.id, replayed: false };
}

export async function reserve(em: EntityManager, req: ReservationRequest): Promise<TransferResult> {
  return em.transactional((tx) => reserveIn(tx, req));
}

interface ReservationRow {
  id: string;
  account_id: string;
  amount: string;
  status: 'pending' | 'posted' | 'voided';
  posted_amount: string | null;
  settlement_transfer_id: string | null;
}

async function loadReservation(tx: EntityManager, id: string, lock: boolean): Promise<ReservationRow> {
  const rows = await tx.execute<ReservationRow[]>(
    `select id, account_id, amount, status, posted_amount, settlement_transfer_id from reservation where id = ?${
      lock ? ' for update' : ''
    }`,
    [id],
  );
  if (rows.length === 0) {
    throw new LedgerError('RESERVATION_NOT_FOUND', `reservation ${id} does not exist`, { reservationId: id });
  }
  return rows[0];
}

export interface PostReservationRequest {
  reservationId: string;
  /** Minutes to move to the credit account; the rest of the reservation is released. */
  amount: number;
  creditAccountId: string;
  transferId: string;
  kind: TransferKind;
  orderId?: string;
}

export interface PostReservationResult extends TransferResult {
  /** Minutes actually moved; less than requested only when the debit account could not cover more. */
  postedAmount: number;
}

/**
 * Posts a pending reservation as a transfer of `amount` and releases the rest,
 * exactly once. An amount above the reservation (served time may exceed the
 * booking by the allowance) takes the excess from the available balance, and
 * is cut to what the account can cover, so settlement never overdraws or
 * fails. An amount of 0 only releases.
 */
export async function postReservationIn(tx: EntityManager, req: PostReservationRequest): Promise<PostReservationResult> {
  if (!Number.isSafeInteger(req.amount) || req.amount < 0) {
    throw new LedgerError('INVALID_AMOUNT', `posted amount must be a whole number of minutes >= 0, got ${req.amount}`);
  }
  const peek = await loadReservation(tx, req.reservationId, false);
  const accounts = await lockAccounts(tx, [peek.account_id, req.creditAccountId]);
  const reservation = await loadReservation(tx, req.reservationId, true);

  if (reservation.status === 'posted') {
    const postedAmount = Number(reservation.posted_amount);
    const expectedTransfer = postedAmount > 0 ? req.transferId : null;
    if (postedAmount <= req.amount && (reservation.settlement_transfer_id ?? null) === expectedTransfer) {
      return { id: req.transferId, replayed: true, postedAmount };
    }
    throw new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      `reservation ${req.reservationId} was already posted for ${reservation.posted_amount} minutes`,
      { reservationId: req.reservationId },
    );
  }
  if (reservation.status === 'voided') {
    throw new LedgerError('RESERVATION_RESOLVED', `reservation ${req.reservationId} was voided and cannot be posted`, {
      reservationId: req.reservationId,
    });
  }

  // Release the whole hold first, then post the served part as an ordinary transfer.
  const reservedAmount = Number(reservation.amount);
  const debit = accounts.get(reservation.account_id)!;
  await tx.execute(`update account set reserved = reserved - ? where id = ?`, [reservedAmount, debit.id]);
  debit.reserved = String(Number(debit.reserved) - reservedAmount);
  const postedAmount = Math.min(req.amount, Math.max(0, available(debit)));

  if (postedAmount > 0) {
    const content = { kind: req.kind, debit: debit.id, credit: req.creditAccountId, amount: postedAmount, orderId: req.orderId ?? null };
    await tx.execute(
      `insert into transfer (id, kind, debit_account_id, credit_account_id, amount, order_id, memo, request_hash)
       values (?, ?, ?, ?, ?, ?, ?, ?)`,
      [req.transferId, req.kind, debit.id, req.creditAccountId, postedAmount, req.orderId ?? null,
        `posted from reservation ${req.reservationId}`, hashContent(content)],
    );
    await postEntries(tx, req.transferId, debit, accounts.get(req.creditAccountId)!, postedAmount);
  }
  await tx.execute(
    `update reservation set status = 'posted', posted_amount = ?, settlement_transfer_id = ?, resolved_at = now()
     where id = ?`,
    [postedAmount, postedAmount > 0 ? req.transferId : null, req.reservationId],
  );
  return { id: req.transferId, replayed: false, postedAmount };
}

/** Releases a pending reservation in full, exactly once; voiding twice is a no-op. */
export async function voidReservationIn(tx: EntityManager, reservationId: string): Promise<TransferResult> {
  const peek = await loadReservation(tx, reservationId, false);
  await lockAccounts(tx, [peek.account_id]);
  const reservation = await loadReservation(tx, reservationId, true);
  if (reservation.status === 'voided') {
    return { id: reservationId, replayed: true };
  }
  if (reservation.status === 'posted') {
    throw new LedgerError('RESERVATION_RESOLVED', `reservation ${reservationId} was already posted and cannot be voided`, {
      reservationId,
    });
  }
  await tx.execute(`update account set reserved = reserved - ? where id = ?`, [reservation.amount, reservation.account_id]);
  await tx.execute(`update reservation set status = 'voided', resolved_at = now() where id = ?`, [reservationId]);
  return { id: reservationId, replayed: false };
}

export async function getBalance(em: EntityManager, accountId: string): Promise<Balance | null> {
  const rows = await em.execute<AccountRow[]>(`select id, kind, balance, reserved, version from account where id = ?`, [
    accountId,
  ]);
  if (rows.length === 0) return null;
  const row = rows[0];
  return {
    accountId: row.id,
    balance: Number(row.balance),
    reserved: Number(row.reserved),
    available: available(row),
  };
}

export interface LedgerCheck {
  ok: boolean;
  problems: string[];
}

/**
 * Checks the ledger invariants over the whole database: balances sum to zero,
 * each balance equals the sum of its entries, versions have no gaps, no
 * non-issuance account is overdrawn, reserved equals the pending reservations,
 * and every transfer has exactly two entries that cancel out.
 */
export async function checkLedger(em: EntityManager): Promise<LedgerCheck> {
  const problems: string[] = [];
  const [sum] = await em.execute<Array<{ total: string | null }>>(`select sum(balance) as total from account`);
  if (Number(sum.total ?? 0) !== 0) problems.push(`balances sum to ${sum.total}, expected 0`);

  const mismatched = await em.execute<Array<{ id: string; balance: string; entries: string }>>(`
    select a.id, a.balance, coalesce(sum(e.amount), 0) as entries
    from account a left join entry e on e.account_id = a.id
    group by a.id, a.balance having a.balance <> coalesce(sum(e.amount), 0)`);
  for (const m of mismatched) problems.push(`account ${m.id} balance ${m.balance} differs from its entries ${m.entries}`);

  const gaps = await em.execute<Array<{ account_id: string }>>(`
    select account_id from entry group by account_id
    having max(version) <> count(*) or min(version) <> 1`);
  for (const g of gaps) problems.push(`account ${g.account_id} has a gap in its entry versions`);

  const lastBalance = await em.execute<Array<{ id: string }>>(`
    select a.id from account a
    join lateral (select balance_after from entry e where e.account_id = a.id order by version desc limit 1) last on true
    where last.balance_after <> a.balance`);
  for (const l of lastBalance) problems.push(`account ${l.id} running balance differs from its balance`);

  const overdrawn = await em.execute<Array<{ id: string }>>(
    `select id from account where kind <> 'grant' and balance - reserved < 0`,
  );
  for (const o of overdrawn) problems.push(`account ${o.id} is overdrawn`);

  const reserved = await em.execute<Array<{ id: string }>>(`
    select a.id from account a
    left join (select account_id, sum(amount) as pending from reservation where status = 'pending' group by account_id) r
      on r.account_id = a.id
    where a.reserved <> coalesce(r.pending, 0)`);
  for (const r of reserved) problems.push(`account ${r.id} reserved amount differs from its pending reservations`);

  const unbalanced = await em.execute<Array<{ id: string }>>(`
    select t.id from transfer t left join entry e on e.transfer_id = t.id
    group by t.id, t.amount
    having count(e.*) <> 2 or coalesce(sum(e.amount), 0) <> 0 or max(e.amount) <> t.amount`);
  for (const u of unbalanced) problems.push(`transfer ${u.id} is not a balanced pair of entries`);

  return { ok: problems.length === 0, problems };
}
