import { Router } from 'express';
import { WorkflowNotFoundError } from '@temporalio/client';
import { orderWorkflowId } from '../domain/order';
import { requireRole } from './auth';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { idParams } from './schemas';

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
            eventType: e.eventType,
            eventTime: e.eventTime?.seconds ? new Date(Number(e.eventTime.seconds) * 1000).toISOString() : undefined,
          })),
        });
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) throw new ApiError('ORDER_NOT_FOUND', `no workflow for order ${id}`);
        throw err;
      }
    }),
  );

  return router;
}
