import { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { orderWorkflowId } from '../domain/order';
import { requireRole } from './auth';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { accessLogQuery, emptyBody, idParams, pageQuery } from './schemas';
import { listAccess } from '../db/access-log';
import { reconciliationWorkflow } from '../workflows/reconciliation';
import { randomUUID } from 'node:crypto';

/**
 * Operator endpoints. Workflow histories carry only opaque ids, so operators
 * may read them without seeing personal data.
 */
export function opsRouter(ctx: AppContext): Router {
  const router = Router();

  router.get(
    '/ops/orders/:id/history',
    route(async (req, res) => {
      requireRole(req, 'operator', 'city_admin');
      const { id } = parseInput(req, idParams, req.params, 'params');
      const handle = ctx.temporal.workflow.getHandle(orderWorkflowId(id));
      try {
        const description = await handle.describe();
        const history = await handle.fetchHistory();
        res.json({
          workflowId: description.workflowId,
          runId: description.runId,
          status: description.status.name,
          startTime: description.startTime.toISOString(),
          closeTime: description.closeTime?.toISOString(),
          historyLength: description.historyLength,
          events: (history.events ?? []).map((e) => ({
            eventId: Number(e.eventId),
            eventType: e.eventType === null || e.eventType === undefined ? undefined : temporal.api.enums.v1.EventType[e.eventType],
            eventTime: e.eventTime?.seconds ? new Date(Number(e.eventTime.seconds) * 1000).toISOString() : undefined,
          })),
        });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError('ORDER_NOT_FOUND', `no workflow for order ${id}`);
        throw err;
      }
    }),
  );

  /** Starts a reconciliation run now and returns its outcome. */
  router.post(
    '/ops/reconciliations',
    route(async (req, res) => {
      requireRole(req, 'operator', 'city_admin');
      parseInput(req, emptyBody, req.body ?? {}, 'body');
      const runId = `reconciliation-${randomUUID()}`;
      const summary = await ctx.temporal.workflow.execute(reconciliationWorkflow, {
        taskQueue: ctx.config.temporal.taskQueue,
        workflowId: runId,
        args: ['operator'],
      });
      res.status(201).json(await loadRun(summary.runId));
    }),
  );

  router.get(
    '/ops/reconciliations',
    route(async (req, res) => {
      requireRole(req, 'operator', 'city_admin');
      const page = parseInput(req, pageQuery, req.query, 'query');
      const rows = await ctx.orm.em.fork().execute<Array<{ id: string }>>(
        `select id from reconciliation_run order by started_at desc limit ? offset ?`,
        [page.limit, page.offset],
      );
      res.json({ items: await Promise.all(rows.map((r) => loadRun(r.id))), limit: page.limit, offset: page.offset });
    }),
  );

  /**
   * The personal data access log, newest first. It contains ids, field names and
   * the reasons staff gave, never the values that were shown.
   */
  router.get(
    '/ops/access-log',
    route(async (req, res) => {
      requireRole(req, 'operator', 'city_admin');
      const filter = parseInput(req, accessLogQuery, req.query, 'query');
      const { rows, total } = await listAccess(ctx.orm.em.fork(), filter);
      res.json({
        items: rows.map((row) => ({
          id: String(row.id),
          at: new Date(row.at).toISOString(),
          actorId: row.actor_id,
          actorRole: row.actor_role,
          actorDistrictCode: row.actor_district_code ?? undefined,
          personId: row.person_id,
          action: row.action,
          fields: row.fields,
          reason: row.reason ?? undefined,
        })),
        total,
        limit: filter.limit,
        offset: filter.offset,
      });
    }),
  );

  async function loadRun(id: string) {
    const [row] = await ctx.orm.em.fork().execute<
      Array<{ id: string; trigger: string; started_at: Date; finished_at: Date | null; ok: boolean | null; accounts_checked: number | null; problems: string[] }>
    >(`select id, trigger, started_at, finished_at, ok, accounts_checked, problems from reconciliation_run where id = ?`, [id]);
    if (!row) throw new ApiError('NOT_FOUND', `reconciliation run ${id} does not exist`);
    return {
      id: row.id,
      trigger: row.trigger,
      startedAt: new Date(row.started_at).toISOString(),
      finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : undefined,
      ok: row.ok,
      accountsChecked: row.accounts_checked,
      problems: row.problems,
    };
  }

  return router;
}
