import { Router } from 'express';
import { getBalance } from '../db/ledger';
import { postMovement } from './transfers';
import { grantAccountId, personalAccountId } from '../db/reference';
import { coinAmount } from '../domain/coins';
import { actorOf, requireRole, staffCovers } from './auth';
import { AppContext, route } from './context';
import { ApiError, parseInput, requestLang, fieldError } from './problem';
import { grantBody, idParams, pageQuery } from './schemas';
import { idempotencyKeyHeader } from './schemas';

export function accountsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  /** The person's district, when the actor may read that person's account. */
  async function authorizeAccountRead(actorId: string, personId: string, req: Parameters<typeof actorOf>[0]) {
    const actor = actorOf(req);
    const rows = await em().execute<Array<{ district_code: string }>>(`select district_code from person where id = ?`, [
      personId,
    ]);
    const self = actorId === personId || actor.onBehalfOf === personId;
    const staff = ['street_reviewer', 'district_officer', 'city_admin'].includes(actor.role);
    if (rows.length === 0 || !(self || (staff && staffCovers(actor, rows[0].district_code)))) {
      throw new ApiError('ACCOUNT_NOT_FOUND', `no account for person ${personId}`);
    }
  }

  router.get(
    '/accounts/:id',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      await authorizeAccountRead(actor.id, id, req);
      const balance = await getBalance(em(), personalAccountId(id));
      if (!balance) throw new ApiError('ACCOUNT_NOT_FOUND', `no account for person ${id}`);
      res.json({
        personId: id,
        balance: coinAmount(balance.balance),
        reserved: coinAmount(balance.reserved),
        available: coinAmount(balance.available),
      });
    }),
  );

  router.get(
    '/accounts/:id/entries',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const page = parseInput(req, pageQuery, req.query, 'query');
      await authorizeAccountRead(actor.id, id, req);
      const rows = await em().execute<
        Array<{ version: string; amount: string; balance_after: string; transfer_id: string; kind: string; order_id: string | null; created_at: Date }>
      >(
        `select e.version, e.amount, e.balance_after, e.transfer_id, t.kind, t.order_id, e.created_at
         from entry e join transfer t on t.id = e.transfer_id
         where e.account_id = ? order by e.version desc limit ? offset ?`,
        [personalAccountId(id), page.limit, page.offset],
      );
      res.json({
        items: rows.map((r) => ({
          version: Number(r.version),
          amount: coinAmount(Number(r.amount)),
          balanceAfter: coinAmount(Number(r.balance_after)),
          transferId: r.transfer_id,
          kind: r.kind,
          orderId: r.order_id ?? undefined,
          at: new Date(r.created_at).toISOString(),
        })),
        limit: page.limit,
        offset: page.offset,
      });
    }),
  );

  /** A district civil-affairs office grants free coins to an elder of its district. */
  router.post(
    '/grants',
    route(async (req, res) => {
      const actor = requireRole(req, 'district_officer');
      const lang = requestLang(req);
      const body = parseInput(req, grantBody, req.body ?? {}, 'body');
      const rawKey = req.header('Idempotency-Key');
      if (rawKey === undefined) {
        throw fieldError('IDEMPOTENCY_KEY_REQUIRED', 'header.Idempotency-Key', '发放时间币时必须提供', 'required for a grant', lang);
      }
      const key = parseInput(req, idempotencyKeyHeader, rawKey, 'header.Idempotency-Key');
      const elders = await em().execute<Array<{ district_code: string; is_elder: boolean }>>(
        `select district_code, is_elder from person where id = ?`,
        [body.elderId],
      );
      if (elders.length === 0 || !staffCovers(actor, elders[0].district_code)) {
        throw new ApiError('PERSON_NOT_FOUND', `person ${body.elderId} does not exist in district ${actor.districtCode}`);
      }
      if (!elders[0].is_elder) throw new ApiError('NOT_AN_ELDER', `person ${body.elderId} is not a registered elder`);

      const transferId = `grant:${actor.id}:${key}`;
      const cap = ctx.config.policy.grantCapMinutesPerElderPerYear;
      const debitAccountId = grantAccountId(elders[0].district_code);
      const creditAccountId = personalAccountId(body.elderId);
      const result = await postMovement(
        em(),
        { id: transferId, kind: 'grant', debitAccountId, creditAccountId, amount: body.amountMinutes, memo: body.reason },
        async (tx) => {
          // The accounts are locked in id order, as the ledger locks them, so
          // two grants racing for one elder cannot together pass the cap.
          await tx.execute(`select id from account where id in (?, ?) order by id for update`, [debitAccountId, creditAccountId]);
          const [{ granted }] = await tx.execute<Array<{ granted: string }>>(
            `select coalesce(sum(amount), 0) as granted from transfer
             where kind = 'grant' and credit_account_id = ?
               and created_at >= date_trunc('year', now() at time zone 'Asia/Shanghai') at time zone 'Asia/Shanghai'`,
            [creditAccountId],
          );
          if (Number(granted) + body.amountMinutes > cap) {
            throw fieldError(
              'VALIDATION_FAILED',
              'body.amountMinutes',
              `超过每位老人每年 ${cap} 分钟的发放上限（今年已发放 ${granted} 分钟）`,
              `exceeds the yearly cap of ${cap} minutes per elder (${granted} granted this year)`,
              lang,
            );
          }
        },
      );
      ctx.logger.info({ transferId: result.id, elderId: body.elderId, replayed: result.replayed }, 'grant posted');
      res.status(result.replayed ? 200 : 201).json({ transferId: result.id, amount: coinAmount(body.amountMinutes) });
    }),
  );

  return router;
}
