import { randomUUID } from 'node:crypto';
import { Request, Router } from 'express';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { AccidentClaimWorkflowInput } from '../domain/accident-claim';
import { accidentClaimWorkflowId } from '../domain/cases';
import type { Actor } from '../domain/order';
import { CASE_KIND, DISTRICT_CODE } from '../domain/search-attributes';
import { accidentClaimWorkflow, closeClaim, retryClaim } from '../workflows/accident-claim';
import { actorOf, requireRole, staffCovers, STAFF_ROLES, subjectPersonId } from './auth';
import { closeClaimBody, listClaimsQuery, reportAccidentBody } from './case-schemas';
import { executeCaseUpdate, isUniqueViolation, readIdempotencyKey, timelineView } from './case-support';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { emptyBody, idParams } from './schemas';
import { Filters, readPage } from './listing';

interface ClaimRow {
  id: string;
  order_id: string;
  volunteer_id: string;
  district_code: string;
  injured_at: Date;
  description: string;
  status: string;
  route: string | null;
  registry_status: string | null;
  reported_at: Date;
  created_by: string;
  acting_agent_id: string | null;
  updated_at: Date;
}

const CLAIM_COLUMNS = `id, order_id, volunteer_id, district_code, injured_at, description, status, route, registry_status,
  reported_at, created_by, acting_agent_id, updated_at`;

/** Converts a claim row to its API form. Only the volunteer and staff of the district can load a claim, so only they see the injury description. */
function claimView(row: ClaimRow) {
  return {
    id: row.id,
    kind: 'accident_claim',
    orderId: row.order_id,
    volunteerId: row.volunteer_id,
    districtCode: row.district_code,
    injuredAt: new Date(row.injured_at).toISOString(),
    description: row.description,
    status: row.status,
    route: row.route ?? undefined,
    registryStatus: row.registry_status ?? undefined,
    reportedAt: new Date(row.reported_at).toISOString(),
    actingAgentId: row.acting_agent_id ?? undefined,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Accident insurance claims (意外保险理赔) handed to Volunteer Beijing (志愿北京). */
export function claimsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  async function findClaim(id: string): Promise<ClaimRow | undefined> {
    const rows = await em().execute<ClaimRow[]>(`select ${CLAIM_COLUMNS} from accident_claim where id = ?`, [id]);
    return rows[0];
  }

  async function loadVisibleClaim(req: Request): Promise<{ row: ClaimRow; actor: Actor }> {
    const actor = actorOf(req);
    const { id } = parseInput(req, idParams, req.params, 'params');
    const row = await findClaim(id);
    const visible =
      row !== undefined &&
      (actor.role === 'volunteer'
        ? row.volunteer_id === actor.id
        : actor.role === 'agent'
          ? row.volunteer_id === actor.onBehalfOf
          : actor.role !== 'elder' && actor.role !== 'operator' && staffCovers(actor, row.district_code));
    if (!visible) throw new ApiError('CLAIM_NOT_FOUND', `claim ${id} does not exist`);
    return { row: row!, actor };
  }

  async function respondWithClaim(res: import('express').Response, id: string, status = 200) {
    const row = (await findClaim(id))!;
    res.status(status).json({ ...claimView(row), timeline: await timelineView(ctx, id) });
  }

  async function startClaimWorkflow(row: ClaimRow): Promise<void> {
    const input: AccidentClaimWorkflowInput = {
      claimId: row.id,
      orderId: row.order_id,
      volunteerId: row.volunteer_id,
      districtCode: row.district_code,
      reportedAt: new Date(row.reported_at).toISOString(),
      settings: { policy: ctx.config.policy, minuteMs: ctx.config.minuteMs },
    };
    await ctx.temporal.workflow.start(accidentClaimWorkflow, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId: accidentClaimWorkflowId(row.id),
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: CASE_KIND, value: 'accident_claim' },
        { key: DISTRICT_CODE, value: row.district_code },
      ]),
    });
  }

  router.post(
    '/claims',
    route(async (req, res) => {
      const actor = requireRole(req, 'volunteer', 'agent');
      const body = parseInput(req, reportAccidentBody, req.body ?? {}, 'body');
      const key = readIdempotencyKey(req, true, { zh: '报告意外时必须提供', en: 'required to report an accident' });
      const volunteerId = subjectPersonId(actor);

      const existing = await em().execute<ClaimRow[]>(
        `select ${CLAIM_COLUMNS} from accident_claim where created_by = ? and idempotency_key = ?`,
        [actor.id, key],
      );
      if (existing.length > 0) {
        if (existing[0].order_id !== body.orderId || existing[0].volunteer_id !== volunteerId) {
          throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} was used for another report`);
        }
        await startClaimWorkflow(existing[0]);
        await respondWithClaim(res, existing[0].id);
        return;
      }

      const [order] = await em().execute<
        Array<{ volunteer_id: string | null; district_code: string; signed_in_at: Date | null; signed_out_at: Date | null }>
      >(`select volunteer_id, district_code, signed_in_at, signed_out_at from service_order where id = ?`, [body.orderId]);
      // Orders of other volunteers look missing, so their ids cannot be probed.
      if (!order || order.volunteer_id !== volunteerId) {
        throw new ApiError('ORDER_NOT_FOUND', `order ${body.orderId} does not exist`);
      }
      if (!order.signed_in_at || !order.signed_out_at) {
        throw new ApiError('ORDER_NOT_SERVED', `order ${body.orderId} has no recorded sign-in and sign-out`);
      }

      const claimId = randomUUID();
      let inserted: ClaimRow[];
      try {
        inserted = await em().execute<ClaimRow[]>(
          `insert into accident_claim (id, order_id, volunteer_id, district_code, injured_at, description, status,
             created_by, acting_agent_id, idempotency_key)
           values (?, ?, ?, ?, ?, ?, 'checking_coverage', ?, ?, ?) returning ${CLAIM_COLUMNS}`,
          [
            claimId,
            body.orderId,
            volunteerId,
            order.district_code,
            new Date(body.injuredAt),
            body.description,
            actor.id,
            actor.role === 'agent' ? actor.id : null,
            key,
          ],
        );
      } catch (err) {
        if (isUniqueViolation(err, 'accident_claim_order_id_key')) {
          throw new ApiError('CLAIM_ALREADY_REPORTED', `an accident was already reported for order ${body.orderId}`);
        }
        if (isUniqueViolation(err)) {
          throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} is being used by a request in progress; retry`);
        }
        throw err;
      }
      try {
        await startClaimWorkflow(inserted[0]);
      } catch (err) {
        await em().execute(`delete from accident_claim where id = ?`, [claimId]);
        ctx.logger.error({ err, claimId }, 'claim workflow could not be started; report removed');
        throw new ApiError('WORKFLOW_UNAVAILABLE', 'the report could not be started; retry with the same Idempotency-Key');
      }
      ctx.logger.info({ claimId, orderId: body.orderId, volunteerId }, 'accident reported');
      res.status(201).location(`/v1/claims/${claimId}`);
      await respondWithClaim(res, claimId, 201);
    }),
  );

  router.get(
    '/claims',
    route(async (req, res) => {
      const actor = requireRole(req, 'volunteer', 'agent', ...STAFF_ROLES);
      const q = parseInput(req, listClaimsQuery, req.query, 'query');
      const filters: Filters = [];
      if (actor.role === 'volunteer' || actor.role === 'agent') {
        filters.push(['volunteer_id', subjectPersonId(actor)]);
      } else if (actor.role !== 'city_admin') {
        filters.push(['district_code', actor.districtCode]);
      }
      filters.push(['status', q.status], ['district_code', q.districtCode]);
      const { rows, total } = await readPage<ClaimRow>(em(), {
        table: 'accident_claim',
        columns: CLAIM_COLUMNS,
        orderBy: 'reported_at, id',
        filters,
        limit: q.limit,
        offset: q.offset,
      });
      res.json({ items: rows.map(claimView), total, limit: q.limit, offset: q.offset });
    }),
  );

  router.get(
    '/claims/:id',
    route(async (req, res) => {
      const { row } = await loadVisibleClaim(req);
      await respondWithClaim(res, row.id);
    }),
  );

  const target = (id: string) => ({
    workflowId: accidentClaimWorkflowId(id),
    subject: `claim ${id}`,
    conflict: 'CLAIM_STATE_CONFLICT' as const,
    notFound: 'CLAIM_NOT_FOUND' as const,
  });

  router.post(
    '/claims/:id/close',
    route(async (req, res) => {
      requireRole(req, ...STAFF_ROLES);
      const body = parseInput(req, closeClaimBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleClaim(req);
      await executeCaseUpdate(ctx, req, target(row.id), closeClaim, { actor, reason: body.reason });
      await respondWithClaim(res, row.id);
    }),
  );

  router.post(
    '/claims/:id/retry',
    route(async (req, res) => {
      requireRole(req, ...STAFF_ROLES);
      parseInput(req, emptyBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleClaim(req);
      await executeCaseUpdate(ctx, req, target(row.id), retryClaim, { actor });
      await respondWithClaim(res, row.id);
    }),
  );

  return router;
}
