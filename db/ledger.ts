import { createHash } from 'node:crypto';
import { EntityManager } from '@mikro-orm/postgresql';

/*
 * The coin ledger. Amounts are integer minutes (1 coin = 60 minutes).
 *
 * Concurrency: every operation runs in one READ COMMITTED transaction and
 * takes row locks (SELECT ... FOR UPDATE) on the accounts it touches, always in
 * ascending id order, so two transfers over the same accounts serialize and
 * cannot deadlock. Row locks were chosen over SERIALIZABLE because a transfer
 * then waits for a conflicting one instead of failing with a serialization
 * error, so callers need no retry loop, and transfers over different accounts
 * do not wait for each other. The balance check and the new balances are
 * computed from the locked rows, so no other transaction can change them in
 * between.
 *
 * Idempotency: each transfer and reservation id is a business key; the same
 * key with the same content returns the first result, with other content it
 * is rejected. Inserts use ON CONFLICT DO NOTHING, so two concurrent requests
 * with one key cannot both write: the second waits for the first to commit
 * and then replays or is rejected.
 *
 * postTransfer costs four round trips: BEGIN, the lock, one statement that
 * writes the transfer, both entries and both balances, and COMMIT. A replay or
 * a rejection for a short balance adds one to read the existing transfer.
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

/** Runs one SQL statement with `?` placeholders and returns its rows. */
type Sql = <T = Array<Record<string, unknown>>>(sql: string, params?: unknown[]) => Promise<T>;

function sqlOf(tx: EntityManager): Sql {
  return async <T>(sql: string, params: unknown[] = []) => (await tx.execute(sql, params)) as T;
}

/** The part of a node-postgres client that the ledger uses, plus the flag knex reads to discard a connection. */
interface PgConnection {
  query(config: { name?: string; text: string; values?: unknown[] }): Promise<{ rows: unknown[] }>;
  __knex__disposed?: unknown;
}

const preparedStatements = new Map<string, { name: string; text: string }>();

/**
 * Returns a named prepared statement for `sql`, with its `?` placeholders
 * rewritten to PostgreSQL's `$1, $2, ...` (the ledger's SQL has no `?` inside
 * literals). node-postgres prepares a name once per connection, so PostgreSQL
 * parses each statement once per connection instead of once per call.
 */
function preparedStatement(sql: string, values: unknown[]): { name: string; text: string; values: unknown[] } {
  let statement = preparedStatements.get(sql);
  if (!statement) {
    let n = 0;
    const text = sql.replace(/\?/g, () => `$${(n += 1)}`);
    statement = { name: `ledger_${createHash('sha1').update(text).digest('hex').slice(0, 16)}`, text };
    preparedStatements.set(sql, statement);
  }
  return { ...statement, values };
}

/**
 * Runs `work` in a READ COMMITTED transaction. Inside `em`'s transaction it
 * joins that one. Otherwise it takes a connection from the ORM's pool and
 * sends BEGIN, the statements and COMMIT on it directly, as prepared
 * statements. With em.transactional around the same statements, a single
 * client posted about half as many transfers per second in
 * scripts/bench/ledger.ts (--transaction orm, results in docs/benchmarks.md).
 */
async function inTransaction<T>(em: EntityManager, work: (run: Sql) => Promise<T>): Promise<T> {
  if (em.isInTransaction()) {
    return em.transactional((tx) => work(sqlOf(tx)));
  }
  const pool = em.getConnection().getKnex().client;
  const connection = (await pool.acquireConnection()) as PgConnection;
  const run: Sql = async <R>(sql: string, params: unknown[] = []) =>
    (await connection.query(preparedStatement(sql, params))).rows as R;
  try {
    await connection.query({ text: 'begin isolation level read committed' });
    const result = await work(run);
    await connection.query({ text: 'commit' });
    return result;
  } catch (err) {
    try {
      await connection.query({ text: 'rollback' });
    } catch (rollbackError) {
      // The connection is unusable, so this flag makes knex's pool discard it.
      connection.__knex__disposed = rollbackError;
    }
    throw err;
  } finally {
    await pool.releaseConnection(connection);
  }
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

async function lockAccounts(run: Sql, ids: string[]): Promise<Map<string, AccountRow>> {
  const sorted = [...new Set(ids)].sort();
  const rows = await run<AccountRow[]>(
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

/**
 * Inserts the transfer, its two entries and the new balances and versions of
 * both accounts in one statement, so a transfer costs one round trip after the
 * lock. The caller must hold the locks on both accounts. `releaseFromDebit`
 * minutes of the debit account's hold are released in the same update.
 * Returns false and changes nothing when a transfer with this id exists.
 */
async function insertTransfer(
  run: Sql,
  transfer: { id: string; kind: TransferKind; orderId: string | null; memo: string | null; requestHash: string },
  debit: AccountRow,
  credit: AccountRow,
  amount: number,
  releaseFromDebit = 0,
): Promise<boolean> {
  const debitVersion = Number(debit.version) + 1;
  const creditVersion = Number(credit.version) + 1;
  const debitBalance = Number(debit.balance) - amount;
  const creditBalance = Number(credit.balance) + amount;

  const rows = await run<Array<{ id: string }>>(
    `with t as (
       insert into transfer (id, kind, debit_account_id, credit_account_id, amount, order_id, memo, request_hash)
       values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (id) do nothing
       returning id
     ), e as (
       insert into entry (account_id, version, transfer_id, amount, balance_after)
       select v.account_id, v.version, t.id, v.amount, v.balance_after
       from t cross join (values (?::text, ?::bigint, ?::bigint, ?::bigint), (?::text, ?::bigint, ?::bigint, ?::bigint))
         as v (account_id, version, amount, balance_after)
       returning account_id, version, balance_after
     )
     update account a
     set balance = e.balance_after, version = e.version,
         reserved = a.reserved - (case when a.id = ? then ?::bigint else 0 end)
     from e where a.id = e.account_id
     returning a.id`,
    [
      transfer.id,
      transfer.kind,
      debit.id,
      credit.id,
      amount,
      transfer.orderId,
      transfer.memo,
      transfer.requestHash,
      debit.id,
      debitVersion,
      -amount,
      debitBalance,
      credit.id,
      creditVersion,
      amount,
      creditBalance,
      debit.id,
      releaseFromDebit,
    ],
  );

  if (rows.length === 0) return false;
  if (rows.length !== 2) {
    throw new Error(`transfer ${transfer.id} updated ${rows.length} accounts instead of 2`);
  }
  debit.balance = String(debitBalance);
  debit.version = String(debitVersion);
  debit.reserved = String(Number(debit.reserved) - releaseFromDebit);
  credit.balance = String(creditBalance);
  credit.version = String(creditVersion);
  return true;
}

/**
 * Returns the replay of an existing transfer with this id and content, null
 * when no transfer has the id, and raises IDEMPOTENCY_CONFLICT when one has
 * other content.
 */
async function findReplay(run: Sql, id: string, requestHash: string): Promise<TransferResult | null> {
  const existing = await run<Array<{ request_hash: string }>>(`select request_hash from transfer where id = ?`, [id]);
  if (existing.length === 0) return null;
  if (existing[0].request_hash !== requestHash) {
    throw new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      `transfer ${id} already exists with different content; use a new id for a new transfer`,
      { transferId: id },
    );
  }
  return { id, replayed: true };
}

async function transferWith(run: Sql, req: TransferRequest): Promise<TransferResult> {
  assertAmount(req.amount);
  const content = {
    kind: req.kind,
    debit: req.debitAccountId,
    credit: req.creditAccountId,
    amount: req.amount,
    orderId: req.orderId ?? null,
  };
  const requestHash = hashContent(content);
  const accounts = await lockAccounts(run, [req.debitAccountId, req.creditAccountId]);
  const debit = accounts.get(req.debitAccountId)!;
  const credit = accounts.get(req.creditAccountId)!;

  if (debit.kind !== 'grant' && available(debit) < req.amount) {
    // A retry of a transfer that went through still replays after the balance has dropped.
    const replay = await findReplay(run, req.id, requestHash);
    if (replay) return replay;
    throw new LedgerError(
      'INSUFFICIENT_BALANCE',
      `account ${debit.id} has ${available(debit)} minutes available, ${req.amount} requested`,
      { accountId: debit.id, available: available(debit), requested: req.amount },
    );
  }

  const transfer = { id: req.id, kind: req.kind, orderId: req.orderId ?? null, memo: req.memo ?? null, requestHash };
  if (await insertTransfer(run, transfer, debit, credit, req.amount)) {
    return { id: req.id, replayed: false };
  }
  // The id is taken. The insert waited for the writer of that row to commit, so the row is visible now.
  const replay = await findReplay(run, req.id, requestHash);
  if (!replay) throw new Error(`transfer ${req.id} conflicted on insert but cannot be read back`);
  return replay;
}

/** Posts a transfer inside the caller's transaction. */
export async function postTransferIn(tx: EntityManager, req: TransferRequest): Promise<TransferResult> {
  return transferWith(sqlOf(tx), req);
}

/** Posts a transfer in a transaction of its own, or in `em`'s transaction when it has one. */
export async function postTransfer(em: EntityManager, req: TransferRequest): Promise<TransferResult> {
  return inTransaction(em, (run) => transferWith(run, req));
}

export interface ReservationRequest {
  id: string;
  kind: 'order' | 'care_home';
  accountId: string;
  amount: number;
  orderId?: string;
}

/**
 * Returns the replay of an existing reservation with this id and content,
 * null when none has the id, and raises IDEMPOTENCY_CONFLICT when one has
 * other content.
 */
async function findReservationReplay(run: Sql, req: ReservationRequest): Promise<TransferResult | null> {
  const existing = await run<Array<{ account_id: string; amount: string; kind: string; order_id: string | null }>>(
    `select account_id, amount, kind, order_id from reservation where id = ?`,
    [req.id],
  );
  if (existing.length === 0) return null;
  const row = existing[0];
  if (
    row.account_id !== req.accountId ||
    Number(row.amount) !== req.amount ||
    row.kind !== req.kind ||
    (row.order_id ?? null) !== (req.orderId ?? null)
  ) {
    throw new LedgerError('IDEMPOTENCY_CONFLICT', `reservation ${req.id} already exists with different content`, {
      reservationId: req.id,
    });
  }
  return { id: req.id, replayed: true };
}

async function reserveWith(run: Sql, req: ReservationRequest): Promise<TransferResult> {
  assertAmount(req.amount);
  const accounts = await lockAccounts(run, [req.accountId]);
  const account = accounts.get(req.accountId)!;
  if (available(account) < req.amount) {
    const replay = await findReservationReplay(run, req);
    if (replay) return replay;
    throw new LedgerError(
      'INSUFFICIENT_BALANCE',
      `account ${account.id} has ${available(account)} minutes available, ${req.amount} requested`,
      { accountId: account.id, available: available(account), requested: req.amount },
    );
  }
  const inserted = await run<Array<{ id: string }>>(
    `with r as (
       insert into reservation (id, kind, account_id, amount, status, order_id) values (?, ?, ?, ?, 'pending', ?)
       on conflict (id) do nothing
       returning account_id, amount
     )
     update account a set reserved = a.reserved + r.amount from r where a.id = r.account_id
     returning a.id`,
    [req.id, req.kind, req.accountId, req.amount, req.orderId ?? null],
  );
  if (inserted.length === 1) {
    account.reserved = String(Number(account.reserved) + req.amount);
    return { id: req.id, replayed: false };
  }
  const replay = await findReservationReplay(run, req);
  if (!replay) throw new Error(`reservation ${req.id} conflicted on insert but cannot be read back`);
  return replay;
}

/** Holds `amount` of an account's available balance until it is posted or voided. */
export async function reserveIn(tx: EntityManager, req: ReservationRequest): Promise<TransferResult> {
  return reserveWith(sqlOf(tx), req);
}

/** Like reserveIn, in a transaction of its own or in `em`'s transaction when it has one. */
export async function reserve(em: EntityManager, req: ReservationRequest): Promise<TransferResult> {
  return inTransaction(em, (run) => reserveWith(run, req));
}

interface ReservationRow {
  id: string;
  account_id: string;
  amount: string;
  status: 'pending' | 'posted' | 'voided';
  posted_amount: string | null;
  settlement_transfer_id: string | null;
  post_request_hash: string | null;
}

async function loadReservation(run: Sql, id: string, lock: boolean): Promise<ReservationRow> {
  const rows = await run<ReservationRow[]>(
    `select id, account_id, amount, status, posted_amount, settlement_transfer_id, post_request_hash
     from reservation where id = ?${lock ? ' for update' : ''}`,
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

/** Decides a second post of a reservation: the same request replays, any other is rejected. */
function replayPost(reservation: ReservationRow, req: PostReservationRequest, requestHash: string): PostReservationResult {
  const postedAmount = Number(reservation.posted_amount);
  let same = reservation.post_request_hash === requestHash;
  if (reservation.post_request_hash === null) {
    // A reservation posted before the request hash was stored can only be compared by amount and transfer id.
    const expectedTransfer = postedAmount > 0 ? req.transferId : null;
    same = postedAmount <= req.amount && (reservation.settlement_transfer_id ?? null) === expectedTransfer;
  }
  if (!same) {
    throw new LedgerError(
      'IDEMPOTENCY_CONFLICT',
      `reservation ${req.reservationId} was already posted for ${reservation.posted_amount} minutes by a different request`,
      { reservationId: req.reservationId },
    );
  }
  return { id: req.transferId, replayed: true, postedAmount };
}

/**
 * Posts a pending reservation as a transfer of `amount` and releases the rest,
 * exactly once. An amount above the reservation (served time may exceed the
 * booking by the allowance) takes the excess from the available balance, and
 * is cut to what the account can cover, so settlement never overdraws or
 * fails. An amount of 0 only releases. A second post with the same request
 * replays the first; with any other amount, credit account, transfer id, kind
 * or order it raises IDEMPOTENCY_CONFLICT.
 */
export async function postReservationIn(tx: EntityManager, req: PostReservationRequest): Promise<PostReservationResult> {
  const run = sqlOf(tx);
  if (!Number.isSafeInteger(req.amount) || req.amount < 0) {
    throw new LedgerError('INVALID_AMOUNT', `posted amount must be a whole number of minutes >= 0, got ${req.amount}`);
  }
  const requestHash = hashContent({
    amount: req.amount,
    credit: req.creditAccountId,
    transferId: req.transferId,
    kind: req.kind,
    orderId: req.orderId ?? null,
  });
  const peek = await loadReservation(run, req.reservationId, false);
  const accounts = await lockAccounts(run, [peek.account_id, req.creditAccountId]);
  const reservation = await loadReservation(run, req.reservationId, true);

  if (reservation.status === 'posted') return replayPost(reservation, req, requestHash);
  if (reservation.status === 'voided') {
    throw new LedgerError('RESERVATION_RESOLVED', `reservation ${req.reservationId} was voided and cannot be posted`, {
      reservationId: req.reservationId,
    });
  }

  // The whole hold is released and the served part is posted as an ordinary transfer.
  const reservedAmount = Number(reservation.amount);
  const debit = accounts.get(reservation.account_id)!;
  const availableAfterRelease = available(debit) + reservedAmount;
  const postedAmount = Math.min(req.amount, Math.max(0, availableAfterRelease));
  const transferId = postedAmount > 0 ? req.transferId : null;

  if (postedAmount > 0) {
    const content = { kind: req.kind, debit: debit.id, credit: req.creditAccountId, amount: postedAmount, orderId: req.orderId ?? null };
    const transfer = {
      id: req.transferId,
      kind: req.kind,
      orderId: req.orderId ?? null,
      memo: `posted from reservation ${req.reservationId}`,
      requestHash: hashContent(content),
    };
    const inserted = await insertTransfer(run, transfer, debit, accounts.get(req.creditAccountId)!, postedAmount, reservedAmount);
    if (!inserted) {
      throw new LedgerError('IDEMPOTENCY_CONFLICT', `transfer id ${req.transferId} is already used by another transfer`, {
        transferId: req.transferId,
        reservationId: req.reservationId,
      });
    }
    await run(
      `update reservation set status = 'posted', posted_amount = ?, settlement_transfer_id = ?, post_request_hash = ?,
         resolved_at = now()
       where id = ?`,
      [postedAmount, transferId, requestHash, req.reservationId],
    );
  } else {
    await run(
      `with r as (
         update reservation set status = 'posted', posted_amount = 0, settlement_transfer_id = null, post_request_hash = ?,
           resolved_at = now()
         where id = ?
         returning account_id, amount
       )
       update account a set reserved = a.reserved - r.amount from r where a.id = r.account_id`,
      [requestHash, req.reservationId],
    );
    debit.reserved = String(Number(debit.reserved) - reservedAmount);
  }
  return { id: req.transferId, replayed: false, postedAmount };
}

/** Releases a pending reservation in full, exactly once; voiding twice is a no-op. */
export async function voidReservationIn(tx: EntityManager, reservationId: string): Promise<TransferResult> {
  const run = sqlOf(tx);
  const peek = await loadReservation(run, reservationId, false);
  await lockAccounts(run, [peek.account_id]);
  const reservation = await loadReservation(run, reservationId, true);
  if (reservation.status === 'voided') {
    return { id: reservationId, replayed: true };
  }
  if (reservation.status === 'posted') {
    throw new LedgerError('RESERVATION_RESOLVED', `reservation ${reservationId} was already posted and cannot be voided`, {
      reservationId,
    });
  }
  await run(
    `with r as (
       update reservation set status = 'voided', resolved_at = now() where id = ? returning account_id, amount
     )
     update account a set reserved = a.reserved - r.amount from r where a.id = r.account_id`,
    [reservationId],
  );
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
 * Checks the ledger invariants over the whole database. Balances sum to zero,
 * each balance equals the sum of its entries, and versions have no gaps. No
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
