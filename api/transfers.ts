import { Request, Router } from 'express';
import { EntityManager } from '@mikro-orm/postgresql';
import { z } from 'zod';
import { LedgerError, postTransferIn, TransferKind } from '../db/ledger';
import { personalAccountId, welfareAccountId } from '../db/reference';
import { coinAmount } from '../domain/coins';
import { ErrorCode } from '../domain/errors';
import { requireRole, staffCovers, subjectPersonId } from './auth';
import { AppContext, route } from './context';
import { ApiError, fieldError, parseInput, requestLang } from './problem';
import { idempotencyKeyHeader } from './schemas';

const amountMinutes = z.number().int().positive();

export const giftBody = z
  .strictObject({ recipientId: z.uuid(), amountMinutes, message: z.string().trim().max(200).optional() })
  .openapi('Gift');

export const donationBody = z
  .strictObject({
    /** `city` for the city's public-welfare account ("二次公益"), or a district code. */
    to: z.union([z.literal('city'), z.string().regex(/^[0-9]{6}$/, 'must be "city" or a 6-digit district code')]),
    amountMinutes,
  })
  .openapi('Donation');

export const welfareAllocationBody = z
  .strictObject({
    from: z.union([z.literal('city'), z.string().regex(/^[0-9]{6}$/, 'must be "city" or a 6-digit district code')]),
    elderId: z.uuid(),
    amountMinutes,
    reason: z.string().trim().min(1).max(500),
  })
  .openapi('WelfareAllocation');

export const reversalBody = z
  .strictObject({
    transferId: z.string().min(1).max(200),
    amountMinutes,
    reason: z.string().trim().min(1).max(500),
  })
  .openapi('Reversal');

const LEDGER_TO_API: Record<string, ErrorCode> = {
  ACCOUNT_NOT_FOUND: 'ACCOUNT_NOT_FOUND',
  INSUFFICIENT_BALANCE: 'INSUFFICIENT_BALANCE',
  IDEMPOTENCY_CONFLICT: 'IDEMPOTENCY_CONFLICT',
  INVALID_AMOUNT: 'VALIDATION_FAILED',
};

/** Turns a ledger refusal into the matching API error; other errors pass through. */
export function ledgerFailure(err: unknown): never {
  if (err instanceof LedgerError) throw new ApiError(LEDGER_TO_API[err.code] ?? 'ORDER_STATE_CONFLICT', err.message);
  throw err;
}

/** Reads the Idempotency-Key every coin movement requires; the transfer id is derived from it. */
export function requireIdempotencyKey(req: Request, what: string): string {
  const raw = req.header('Idempotency-Key');
  if (raw === undefined) {
    throw fieldError('IDEMPOTENCY_KEY_REQUIRED', 'header.Idempotency-Key', `${what}时必须提供`, `required for a ${what}`, requestLang(req));
  }
  return parseInput(req, idempotencyKeyHeader, raw, 'header.Idempotency-Key');
}

export interface MovementRequest {
  id: string;
  kind: TransferKind;
  debitAccountId: string;
  creditAccountId: string;
  amount: number;
  memo?: string;
}

/**
 * Posts one movement in a transaction. A retry with the same id returns the
 * first result; the memo is compared here because the ledger's content hash
 * leaves it out.
 */
export async function postMovement(em: EntityManager, req: MovementRequest, check?: (tx: EntityManager) => Promise<void>) {
  return em.transactional(async (tx) => {
    const [previous] = await tx.execute<Array<{ memo: string | null }>>(`select memo from transfer where id = ?`, [req.id]);
    if (previous && (previous.memo ?? undefined) !== req.memo) {
      throw new ApiError('IDEMPOTENCY_CONFLICT', `transfer ${req.id} was already posted with other content`);
    }
    if (!previous && check) await check(tx);
    try {
      return await postTransferIn(tx, req);
    } catch (err) {
      ledgerFailure(err);
    }
  });
}

async function loadPerson(em: EntityManager, id: string) {
  const [row] = await em.execute<Array<{ id: string; district_code: string; is_elder: boolean }>>(
    `select id, district_code, is_elder from person where id = ?`,
    [id],
  );
  return row;
}

function movementView(result: { id: string; replayed: boolean }, kind: string, amount: number) {
  return { transferId: result.id, kind, amount: coinAmount(amount), replayed: result.replayed };
}

/**
 * Coin movements besides orders and grants: gifts to verified direct
 * relatives, donations to public-welfare accounts, staff allocations from
 * them, and compensating reversals for confirmed fraud. No endpoint leads
 * outside the coin economy: every target is a coin account.
 */
export function transfersRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  router.post(
    '/gifts',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent');
      const body = parseInput(req, giftBody, req.body ?? {}, 'body');
      const key = requireIdempotencyKey(req, 'gift');
      const giverId = subjectPersonId(actor);
      if (body.recipientId === giverId) {
        throw fieldError('VALIDATION_FAILED', 'body.recipientId', '不能赠与本人', 'cannot be the giver', requestLang(req));
      }
      const relation = await em().execute(
        `select 1 from person_relationship where status = 'verified'
           and ((person_id = ? and relative_id = ?) or (person_id = ? and relative_id = ?)) limit 1`,
        [giverId, body.recipientId, body.recipientId, giverId],
      );
      if (relation.length === 0) {
        throw new ApiError('RELATIVE_NOT_VERIFIED', `person ${body.recipientId} is not a verified direct relative of ${giverId}`);
      }
      const result = await postMovement(em(), {
        id: `gift:${giverId}:${key}`,
        kind: 'gift',
        debitAccountId: personalAccountId(giverId),
        creditAccountId: personalAccountId(body.recipientId),
        amount: body.amountMinutes,
        memo: body.message,
      });
      ctx.logger.info({ transferId: result.id, giverId, recipientId: body.recipientId, replayed: result.replayed }, 'gift posted');
      res.status(result.replayed ? 200 : 201).json(movementView(result, 'gift', body.amountMinutes));
    }),
  );

  router.post(
    '/donations',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent');
      const body = parseInput(req, donationBody, req.body ?? {}, 'body');
      const key = requireIdempotencyKey(req, 'donation');
      const donorId = subjectPersonId(actor);
      const result = await postMovement(em(), {
        id: `donation:${donorId}:${key}`,
        kind: 'donation',
        debitAccountId: personalAccountId(donorId),
        creditAccountId: body.to === 'city' ? 'welfare:city' : welfareAccountId(body.to),
        amount: body.amountMinutes,
      });
      ctx.logger.info({ transferId: result.id, donorId, to: body.to, replayed: result.replayed }, 'donation posted');
      res.status(result.replayed ? 200 : 201).json(movementView(result, 'donation', body.amountMinutes));
    }),
  );

  router.post(
    '/welfare-allocations',
    route(async (req, res) => {
      const actor = requireRole(req, 'district_officer', 'city_admin');
      const body = parseInput(req, welfareAllocationBody, req.body ?? {}, 'body');
      const key = requireIdempotencyKey(req, 'welfare allocation');
      if (body.from === 'city' ? actor.role !== 'city_admin' : !staffCovers(actor, body.from)) {
        throw new ApiError('FORBIDDEN', `role ${actor.role} of ${actor.districtCode ?? 'the city'} cannot allocate from welfare:${body.from}`);
      }
      const elder = await loadPerson(em(), body.elderId);
      if (!elder || !staffCovers(actor, elder.district_code)) throw new ApiError('PERSON_NOT_FOUND', `person ${body.elderId} does not exist`);
      if (!elder.is_elder) throw new ApiError('NOT_AN_ELDER', `person ${body.elderId} is not a registered elder`);
      const result = await postMovement(em(), {
        id: `welfare:${actor.id}:${key}`,
        kind: 'welfare_allocation',
        debitAccountId: body.from === 'city' ? 'welfare:city' : welfareAccountId(body.from),
        creditAccountId: personalAccountId(body.elderId),
        amount: body.amountMinutes,
        memo: body.reason,
      });
      ctx.logger.info({ transferId: result.id, elderId: body.elderId, actorId: actor.id, replayed: result.replayed }, 'welfare allocation posted');
      res.status(result.replayed ? 200 : 201).json(movementView(result, 'welfare_allocation', body.amountMinutes));
    }),
  );

  router.post(
    '/reversals',
    route(async (req, res) => {
      const actor = requireRole(req, 'district_officer', 'city_admin');
      const body = parseInput(req, reversalBody, req.body ?? {}, 'body');
      const key = requireIdempotencyKey(req, 'reversal');
      const [original] = await em().execute<
        Array<{ id: string; kind: string; debit_account_id: string; credit_account_id: string; amount: string; district_code: string | null }>
      >(
        `select t.id, t.kind, t.debit_account_id, t.credit_account_id, t.amount,
                coalesce(p.district_code, a.district_code) as district_code
         from transfer t join account a on a.id = t.credit_account_id left join person p on p.id = a.person_id
         where t.id = ?`,
        [body.transferId],
      );
      if (!original || !staffCovers(actor, original.district_code ?? '')) {
        throw new ApiError('NOT_FOUND', `transfer ${body.transferId} does not exist`);
      }
      if (original.kind === 'compensating_reversal') {
        throw new ApiError('ORDER_STATE_CONFLICT', `transfer ${body.transferId} is itself a reversal; post a new transfer instead`);
      }
      const reversalId = `reversal:${actor.id}:${key}`;
      const result = await postMovement(
        em(),
        {
          id: reversalId,
          kind: 'compensating_reversal',
          debitAccountId: original.credit_account_id,
          creditAccountId: original.debit_account_id,
          amount: body.amountMinutes,
          // The memo names the reversed transfer; the sum over such memos caps later reversals.
          memo: `${body.transferId}: ${body.reason}`,
        },
        async (tx) => {
          // Locks the original's accounts in id order, as the ledger does, so
          // two reversals of one transfer cannot together exceed it.
          await tx.execute(`select id from account where id in (?, ?) order by id for update`, [
            original.debit_account_id,
            original.credit_account_id,
          ]);
          const [{ reversed }] = await tx.execute<Array<{ reversed: string }>>(
            `select coalesce(sum(amount), 0) as reversed from transfer
             where kind = 'compensating_reversal' and memo like ?`,
            [`${body.transferId}: %`],
          );
          const left = Number(original.amount) - Number(reversed);
          if (body.amountMinutes > left) {
            throw fieldError(
              'VALIDATION_FAILED',
              'body.amountMinutes',
              `可冲正的剩余数额为 ${left} 分钟`,
              `at most ${left} minutes of this transfer are left to reverse`,
              requestLang(req),
            );
          }
        },
      );
      ctx.logger.warn({ transferId: result.id, originalId: body.transferId, actorId: actor.id, replayed: result.replayed }, 'compensating reversal posted');
      res.status(result.replayed ? 200 : 201).json(movementView(result, 'compensating_reversal', body.amountMinutes));
    }),
  );

  return router;
}
