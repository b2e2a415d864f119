import { createHash, randomUUID } from 'node:crypto';
import { Router, Request } from 'express';
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowIdConflictPolicy,
  WorkflowIdReusePolicy,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes, UpdateDefinition } from '@temporalio/common';
import { getBalance } from '../db/ledger';
import { personalAccountId } from '../db/reference';
import { coinAmount } from '../domain/coins';
import { ageOn } from '../domain/resident-id';
import { Actor, OrderState, OrderWorkflowInput, orderWorkflowId } from '../domain/order';
import { DISTRICT_CODE, ELDER_ID, ORDER_STATUS } from '../domain/search-attributes';
import {
  acceptOrder,
  cancelOrder,
  orderWorkflow,
  rateOrder,
  resolveDispute,
  reviewOrder,
  signIn,
  signOut,
  withdrawOrder,
} from '../workflows/order';
import { actorOf, requireRole, staffCovers, STAFF_ROLES, subjectPersonId } from './auth';
import { AppContext, route } from './context';
import { ApiError, errorCodeOr, fieldError, parseInput, requestLang } from './problem';
import {
  cancelBody,
  createOrderBody,
  acceptBody,
  emptyBody,
  idempotencyKeyHeader,
  idParams,
  listOrdersQuery,
  rateBody,
  resolveDisputeBody,
  reviewBody,
} from './schemas';

interface OrderRow {
  id: string;
  elder_id: string;
  district_code: string;
  street_code: string;
  category: string;
  description: string;
  address: string;
  scheduled_start: Date;
  booked_minutes: number;
  status: string;
  cancel_reason: string | null;
  volunteer_id: string | null;
  reviewer_id: string | null;
  review_note: string | null;
  signed_in_at: Date | null;
  signed_out_at: Date | null;
  served_minutes: number | null;
  settled_minutes: number | null;
  rating: number | null;
  rating_comment: string | null;
  disputed: boolean;
  flags: string[];
  acting_agent_id: string | null;
  request_hash: string;
  created_at: Date;
  updated_at: Date;
}

const ORDER_COLUMNS = `id, elder_id, district_code, street_code, category, description, address, scheduled_start,
  booked_minutes, status, cancel_reason, volunteer_id, reviewer_id, review_note, signed_in_at, signed_out_at,
  served_minutes, settled_minutes, rating, rating_comment, disputed, flags, acting_agent_id, request_hash,
  created_at, updated_at`;

/**
 * The order as a client gets it. The service address is whereabouts data, so
 * a volunteer, or an agent acting for one, gets it only on an order they hold
 * or requested, and operators never get it.
 */
function orderView(row: OrderRow, actor: Actor) {
  const person = actor.role === 'agent' ? actor.onBehalfOf : actor.id;
  const inOrder = row.volunteer_id === person || row.elder_id === person;
  const showAddress = actor.role !== 'operator' && ((actor.role !== 'volunteer' && actor.role !== 'agent') || inOrder);
  return {
    id: row.id,
    elderId: row.elder_id,
    districtCode: row.district_code,
    streetCode: row.street_code,
    category: row.category,
    description: actor.role === 'operator' ? undefined : row.description,
    address: showAddress ? row.address : undefined,
    scheduledStart: new Date(row.scheduled_start).toISOString(),
    booked: coinAmount(row.booked_minutes),
    status: row.status,
    cancelReason: row.cancel_reason ?? undefined,
    volunteerId: row.volunteer_id ?? undefined,
    reviewNote: row.review_note ?? undefined,
    signedInAt: row.signed_in_at ? new Date(row.signed_in_at).toISOString() : undefined,
    signedOutAt: row.signed_out_at ? new Date(row.signed_out_at).toISOString() : undefined,
    served: row.served_minutes === null ? undefined : coinAmount(row.served_minutes),
    settled: row.settled_minutes === null ? undefined : coinAmount(row.settled_minutes),
    rating: row.rating ?? undefined,
    ratingComment: row.rating_comment ?? undefined,
    disputed: row.disputed,
    flags: row.flags,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/**
 * Operators read workflow histories (GET /v1/ops/orders/:id/history), not the
 * order read model: its service time and street are whereabouts, shown only
 * to the people in the order and to staff.
 */
function rejectOperator(actor: Actor): void {
  if (actor.role === 'operator') {
    throw new ApiError('FORBIDDEN', 'operators read order workflow histories, not orders');
  }
}

function hashRequest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex');
}

function idempotencyKey(req: Request, required: boolean): string | undefined {
  const raw = req.header('Idempotency-Key');
  if (raw === undefined) {
    if (required) {
      throw fieldError(
        'IDEMPOTENCY_KEY_REQUIRED',
        'header.Idempotency-Key',
        '创建订单时必须提供',
        'required to create an order',
        requestLang(req),
      );
    }
    return undefined;
  }
  return parseInput(req, idempotencyKeyHeader, raw, 'header.Idempotency-Key');
}

export function ordersRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  async function findOrder(id: string): Promise<OrderRow | undefined> {
    const rows = await em().execute<OrderRow[]>(`select ${ORDER_COLUMNS} from service_order where id = ?`, [id]);
    return rows[0];
  }

  async function isVolunteer(personId: string): Promise<boolean> {
    const rows = await em().execute<Array<{ is_volunteer: boolean }>>(`select is_volunteer from person where id = ?`, [personId]);
    return rows[0]?.is_volunteer === true;
  }

  /** Loads an order the actor may see; 404 for orders outside their view, so ids are not probed. */
  async function loadVisibleOrder(req: Request): Promise<{ row: OrderRow; actor: Actor }> {
    const actor = actorOf(req);
    rejectOperator(actor);
    const { id } = parseInput(req, idParams, req.params, 'params');
    const row = await findOrder(id);
    if (!row) throw new ApiError('ORDER_NOT_FOUND', `order ${id} does not exist`);
    const visible = await (async () => {
      switch (actor.role) {
        case 'elder':
          return row.elder_id === actor.id;
        case 'agent':
          // An agent gets the view of the person acted for, which for a volunteer includes open orders.
          if (row.elder_id === actor.onBehalfOf || row.volunteer_id === actor.onBehalfOf) return true;
          return row.status === 'open' && actor.onBehalfOf !== undefined && (await isVolunteer(actor.onBehalfOf));
        case 'volunteer':
          return row.volunteer_id === actor.id || row.elder_id === actor.id || row.status === 'open';
        default:
          return staffCovers(actor, row.district_code);
      }
    })();
    if (!visible) throw new ApiError('ORDER_NOT_FOUND', `order ${id} does not exist`);
    return { row, actor };
  }

  async function runUpdate<A>(
    req: Request,
    orderId: string,
    update: UpdateDefinition<OrderState, [A]>,
    arg: A,
  ): Promise<OrderState> {
    const actor = actorOf(req);
    const key = idempotencyKey(req, false);
    // Temporal keeps one result per update id, so a retried request with the
    // same Idempotency-Key returns the first outcome instead of acting twice.
    // The step's name is part of the id, so a key reused on another step does
    // not replay the earlier step's result.
    const updateId = key ? `${actor.id}:${update.name}:${key}` : randomUUID();
    const handle = ctx.temporal.workflow.getHandle(orderWorkflowId(orderId));
    try {
      return await handle.executeUpdate(update, { args: [arg], updateId });
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
        throw new ApiError(errorCodeOr(err.cause.type, 'ORDER_STATE_CONFLICT'), err.cause.message);
      }
      if (err instanceof WorkflowNotFoundError || /already completed/i.test((err as Error).message ?? '')) {
        const row = await findOrder(orderId);
        if (row) throw new ApiError('ORDER_STATE_CONFLICT', `order ${orderId} is already ${row.status}`);
        throw new ApiError('ORDER_NOT_FOUND', `order ${orderId} does not exist`);
      }
      ctx.logger.error({ err, orderId }, 'workflow update failed');
      throw new ApiError('WORKFLOW_UNAVAILABLE', `the update of order ${orderId} could not be delivered; retry`);
    }
  }

  async function respondWithOrder(res: import('express').Response, orderId: string, actor: Actor, status = 200) {
    const row = await findOrder(orderId);
    res.status(status).json(orderView(row!, actor));
  }

  router.post(
    '/orders',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent');
      const lang = requestLang(req);
      const body = parseInput(req, createOrderBody, req.body ?? {}, 'body');
      const key = idempotencyKey(req, true)!;
      const elderId = subjectPersonId(actor);
      const requestHash = hashRequest({ elderId, ...body });

      const existing = await em().execute<OrderRow[]>(
        `select ${ORDER_COLUMNS} from service_order where created_by = ? and idempotency_key = ?`,
        [actor.id, key],
      );
      if (existing.length > 0) {
        if (existing[0].request_hash !== requestHash) {
          throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} was used for a different order`);
        }
        await ensureWorkflowStarted(existing[0]);
        res.status(200).location(`/v1/orders/${existing[0].id}`).json(orderView(existing[0], actor));
        return;
      }

      const elders = await em().execute<
        Array<{ id: string; is_elder: boolean; is_volunteer: boolean; birth_date: string; district_code: string; street_code: string; address: string }>
      >(
        `select id, is_elder, is_volunteer, to_char(birth_date, 'YYYY-MM-DD') as birth_date, district_code, street_code, address
         from person where id = ?`,
        [elderId],
      );
      const elder = elders[0];
      if (!elder) throw new ApiError('PERSON_NOT_FOUND', `person ${elderId} does not exist`);
      if (!elder.is_elder) {
        if (!elder.is_volunteer) throw new ApiError('NOT_AN_ELDER', `person ${elderId} is not a registered elder`);
        await requireRedemptionAge(elderId, elder.birth_date);
      }

      const { policy, minuteMs } = ctx.config;
      if (body.bookedMinutes < policy.minBookedMinutes || body.bookedMinutes > policy.maxBookedMinutes) {
        throw fieldError(
          'VALIDATION_FAILED',
          'body.bookedMinutes',
          `预约时长须在 ${policy.minBookedMinutes} 到 ${policy.maxBookedMinutes} 分钟之间`,
          `must be from ${policy.minBookedMinutes} to ${policy.maxBookedMinutes} minutes`,
          lang,
        );
      }
      const start = Date.parse(body.scheduledStart);
      const now = Date.now();
      const earliest = now + policy.minLeadMinutes * minuteMs;
      const latest = now + policy.maxAdvanceDays * 24 * 60 * minuteMs;
      if (start < earliest || start > latest) {
        throw fieldError(
          'SCHEDULE_OUT_OF_RANGE',
          'body.scheduledStart',
          `预约开始时间须在 ${new Date(earliest).toISOString()} 与 ${new Date(latest).toISOString()} 之间`,
          `must be between ${new Date(earliest).toISOString()} and ${new Date(latest).toISOString()}`,
          lang,
        );
      }
      let streetCode = elder.street_code;
      if (body.streetCode) {
        const streets = await em().execute<Array<{ district_code: string }>>(
          `select district_code from street where code = ?`,
          [body.streetCode],
        );
        if (streets.length === 0) {
          throw fieldError('VALIDATION_FAILED', 'body.streetCode', '街道编码不存在', 'no such street code', lang);
        }
        streetCode = body.streetCode;
      }
      const districtRows = await em().execute<Array<{ district_code: string }>>(
        `select district_code from street where code = ?`,
        [streetCode],
      );
      const districtCode = districtRows[0].district_code;

      const balance = await getBalance(em(), personalAccountId(elderId));
      if (!balance || balance.available < body.bookedMinutes) {
        throw new ApiError(
          'INSUFFICIENT_BALANCE',
          `available ${balance?.available ?? 0} minutes, the order books ${body.bookedMinutes} minutes`,
        );
      }

      const orderId = randomUUID();
      const inserted = await em().execute<OrderRow[]>(
        `insert into service_order (id, elder_id, district_code, street_code, category, description, address,
           scheduled_start, booked_minutes, status, created_by, acting_agent_id, idempotency_key, request_hash)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending_review', ?, ?, ?, ?)
         on conflict (created_by, idempotency_key) do nothing
         returning ${ORDER_COLUMNS}`,
        [
          orderId,
          elderId,
          districtCode,
          streetCode,
          body.category,
          body.description,
          body.address ?? elder.address,
          new Date(start),
          body.bookedMinutes,
          actor.id,
          actor.role === 'agent' ? actor.id : null,
          key,
          requestHash,
        ],
      );
      if (inserted.length === 0) {
        // A concurrent request with the same key inserted first; a retry returns that order.
        throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} is being used by a request in progress; retry`);
      }
      try {
        await ensureWorkflowStarted(inserted[0]);
      } catch (err) {
        // Leave nothing behind when the workflow could not be started.
        await em().execute(`delete from service_order where id = ?`, [orderId]);
        ctx.logger.error({ err, orderId }, 'order workflow could not be started; order removed');
        throw new ApiError('WORKFLOW_UNAVAILABLE', 'the order could not be started; retry with the same Idempotency-Key');
      }
      ctx.logger.info({ orderId, elderId, agentId: actor.role === 'agent' ? actor.id : undefined }, 'order requested');
      res.status(201).location(`/v1/orders/${orderId}`).json(orderView(inserted[0], actor));
    }),
  );

  /**
   * A volunteer may spend their own coins on their own requests (redemption)
   * once they or their verified spouse reach the redemption age.
   */
  async function requireRedemptionAge(personId: string, birthDate: string): Promise<void> {
    const age = ctx.config.policy.redemptionAge;
    if (ageOn(birthDate, new Date()) >= age) return;
    const spouses = await em().execute<Array<{ birth_date: string }>>(
      `select to_char(p.birth_date, 'YYYY-MM-DD') as birth_date from person_relationship r
       join person p on p.id = case when r.person_id = ? then r.relative_id else r.person_id end
       where r.kind = 'spouse' and r.status = 'verified' and (r.person_id = ? or r.relative_id = ?)`,
      [personId, personId, personId],
    );
    if (spouses.some((s) => ageOn(s.birth_date, new Date()) >= age)) return;
    throw new ApiError('REDEMPTION_NOT_ALLOWED', `neither person ${personId} nor a verified spouse is ${age} or over`);
  }

  async function ensureWorkflowStarted(row: OrderRow): Promise<void> {
    const input: OrderWorkflowInput = {
      orderId: row.id,
      elderId: row.elder_id,
      districtCode: row.district_code,
      scheduledStart: new Date(row.scheduled_start).toISOString(),
      requestedAt: new Date(row.created_at).toISOString(),
      bookedMinutes: row.booked_minutes,
      settings: { policy: ctx.config.policy, minuteMs: ctx.config.minuteMs },
    };
    try {
      await ctx.temporal.workflow.start(orderWorkflow, {
        taskQueue: ctx.config.temporal.taskQueue,
        workflowId: orderWorkflowId(row.id),
        args: [input],
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
        typedSearchAttributes: new TypedSearchAttributes([
          { key: ORDER_STATUS, value: 'pending_review' },
          { key: DISTRICT_CODE, value: row.district_code },
          { key: ELDER_ID, value: row.elder_id },
        ]),
      });
    } catch (err) {
      // A closed execution with this id means the order already ran.
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  router.get(
    '/orders',
    route(async (req, res) => {
      const actor = actorOf(req);
      rejectOperator(actor);
      const q = parseInput(req, listOrdersQuery, req.query, 'query');
      const where: string[] = [];
      const params: unknown[] = [];
      let orderBy = 'created_at desc, id';
      let orderParams: unknown[] = [];
      const add = (clause: string, ...values: unknown[]) => {
        where.push(clause);
        params.push(...values);
      };

      switch (actor.role) {
        case 'elder':
          add('elder_id = ?', actor.id);
          break;
        case 'agent':
        case 'volunteer': {
          // An agent lists what the person acted for would: their own orders, or open ones for a volunteer.
          const person = subjectPersonId(actor);
          const openForVolunteer = q.view === 'open' && (actor.role === 'volunteer' || (await isVolunteer(person)));
          if (openForVolunteer) {
            const me = await em().execute<Array<{ district_code: string; street_code: string }>>(
              `select district_code, street_code from person where id = ?`,
              [person],
            );
            add(`status = 'open'`);
            // Nearest first: the volunteer's own street, then their district, then the rest of the city.
            orderBy = `(street_code = ?) desc, (district_code = ?) desc, scheduled_start, id`;
            orderParams = [me[0]?.street_code ?? '', me[0]?.district_code ?? ''];
          } else {
            add('(volunteer_id = ? or elder_id = ?)', person, person);
          }
          break;
        }
        case 'street_reviewer':
        case 'district_officer':
          add('district_code = ?', actor.districtCode);
          break;
        default:
          break;
      }
      if (q.status) add('status = ?', q.status);
      if (q.districtCode) add('district_code = ?', q.districtCode);
      if (q.elderId) add('elder_id = ?', q.elderId);
      if (q.volunteerId) add('volunteer_id = ?', q.volunteerId);

      const whereSql = where.length > 0 ? `where ${where.join(' and ')}` : '';
      const rows = await em().execute<OrderRow[]>(
        `select ${ORDER_COLUMNS} from service_order ${whereSql} order by ${orderBy} limit ? offset ?`,
        [...params, ...orderParams, q.limit, q.offset],
      );
      const [{ total }] = await em().execute<Array<{ total: string }>>(
        `select count(*) as total from service_order ${whereSql}`,
        params,
      );
      res.json({ items: rows.map((r) => orderView(r, actor)), total: Number(total), limit: q.limit, offset: q.offset });
    }),
  );

  router.get(
    '/orders/:id',
    route(async (req, res) => {
      const { row, actor } = await loadVisibleOrder(req);
      res.json(orderView(row, actor));
    }),
  );

  router.post(
    '/orders/:id/review',
    route(async (req, res) => {
      requireRole(req, 'street_reviewer', 'district_officer', 'city_admin');
      const { row, actor } = await loadVisibleOrder(req);
      const body = parseInput(req, reviewBody, req.body ?? {}, 'body');
      if (body.decision === 'reject' && !body.note) {
        throw fieldError('VALIDATION_FAILED', 'body.note', '驳回时必须填写理由', 'a rejection needs a reason', requestLang(req));
      }
      await runUpdate(req, row.id, reviewOrder, { actor, decision: body.decision, note: body.note });
      await respondWithOrder(res, row.id, actor);
    }),
  );

  router.post(
    '/orders/:id/accept',
    route(async (req, res) => {
      const actor = requireRole(req, 'volunteer', 'agent');
      const body = parseInput(req, acceptBody, req.body ?? {}, 'body');
      const volunteerId = subjectPersonId(actor);
      // A matched order is hidden from other volunteers, who could see it while
      // it was open, so one who comes too late gets ORDER_ALREADY_MATCHED, not 404.
      const { id } = parseInput(req, idParams, req.params, 'params');
      const current = await findOrder(id);
      if (current?.status === 'matched' && current.volunteer_id !== volunteerId) {
        throw new ApiError('ORDER_ALREADY_MATCHED', `order ${id} was accepted by another volunteer`);
      }
      const { row } = await loadVisibleOrder(req);
      await runUpdate(req, row.id, acceptOrder, { actor, volunteerId, withGuardian: body.withGuardian });
      await respondWithOrder(res, row.id, actor);
    }),
  );

  for (const [path, update] of [
    ['withdraw', withdrawOrder],
    ['sign-in', signIn],
    ['sign-out', signOut],
  ] as const) {
    router.post(
      `/orders/:id/${path}`,
      route(async (req, res) => {
        const actor = requireRole(req, 'volunteer', 'agent');
        parseInput(req, emptyBody, req.body ?? {}, 'body');
        const { row } = await loadVisibleOrder(req);
        await runUpdate(req, row.id, update, { actor, volunteerId: subjectPersonId(actor) });
        await respondWithOrder(res, row.id, actor);
      }),
    );
  }

  router.post(
    '/orders/:id/rating',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent');
      const body = parseInput(req, rateBody, req.body ?? {}, 'body');
      const { row } = await loadVisibleOrder(req);
      if (row.elder_id !== subjectPersonId(actor)) throw new ApiError('FORBIDDEN', 'only the elder of the order may rate it');
      await runUpdate(req, row.id, rateOrder, { actor, ...body });
      await respondWithOrder(res, row.id, actor);
    }),
  );

  router.post(
    '/orders/:id/dispute-resolution',
    route(async (req, res) => {
      requireRole(req, ...STAFF_ROLES);
      const body = parseInput(req, resolveDisputeBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleOrder(req);
      // The workflow rejects the same values, but without naming the field.
      const allowance = ctx.config.policy.servedCapAllowanceMinutes;
      const maxServed = row.booked_minutes + allowance;
      if (body.servedMinutes > maxServed) {
        throw fieldError(
          'VALIDATION_FAILED',
          'body.servedMinutes',
          `不能超过 ${maxServed} 分钟（预约时长加 ${allowance} 分钟）`,
          `must be at most ${maxServed} minutes (the booked duration plus ${allowance})`,
          requestLang(req),
        );
      }
      await runUpdate(req, row.id, resolveDispute, { actor, ...body });
      await respondWithOrder(res, row.id, actor);
    }),
  );

  router.post(
    '/orders/:id/cancel',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent', ...STAFF_ROLES);
      const body = parseInput(req, cancelBody, req.body ?? {}, 'body');
      const { row } = await loadVisibleOrder(req);
      if (!STAFF_ROLES.includes(actor.role) && row.elder_id !== subjectPersonId(actor)) {
        throw new ApiError('FORBIDDEN', 'only the elder of the order or staff may cancel it');
      }
      await runUpdate(req, row.id, cancelOrder, { actor, reason: body.reason });
      await respondWithOrder(res, row.id, actor);
    }),
  );

  return router;
}
