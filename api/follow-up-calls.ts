import { Router } from 'express';
import { accidentClaimWorkflowId, careHomeWorkflowId } from '../domain/cases';
import { followUpRecorded } from '../workflows/care-home';
import { actorOf, requireRole } from './auth';
import { followUpOutcomeBody, listFollowUpCallsQuery } from './case-schemas';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { idParams } from './schemas';

interface CallRow {
  id: string;
  subject_kind: 'order' | 'case' | 'claim';
  subject_id: string;
  reason: string;
  district_code: string;
  institution_id: string | null;
  due_at: Date;
  status: 'open' | 'done';
  outcome: string | null;
  attempts: number;
  reached: boolean | null;
  recorded_by: string | null;
  recorded_at: Date | null;
  created_at: Date;
}

const CALL_COLUMNS = `id, subject_kind, subject_id, reason, district_code, institution_id, due_at, status, outcome, attempts,
  reached, recorded_by, recorded_at, created_at`;

function callView(row: CallRow) {
  return {
    id: row.id,
    subjectKind: row.subject_kind,
    subjectId: row.subject_id,
    reason: row.reason,
    districtCode: row.district_code,
    institutionId: row.institution_id ?? undefined,
    dueAt: new Date(row.due_at).toISOString(),
    status: row.status,
    outcome: row.outcome ?? undefined,
    attempts: row.attempts,
    reached: row.reached ?? undefined,
    recordedBy: row.recorded_by ?? undefined,
    recordedAt: row.recorded_at ? new Date(row.recorded_at).toISOString() : undefined,
    createdAt: new Date(row.created_at).toISOString(),
  };
}

const CALL_ROLES = ['agent', 'street_reviewer', 'district_officer', 'city_admin'] as const;

/**
 * Follow-up calls (回访) about orders, care-home applications and claims: the
 * assignee lists the calls due and records each outcome. An agent lists the
 * calls of their institution, district staff those of their district.
 */
export function followUpCallsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  /** Returns the SQL condition that limits calls to the agent's institution or the staff member's district. */
  function scopeOf(actor: ReturnType<typeof actorOf>): { clause?: string; param?: string } {
    if (actor.role === 'agent') return { clause: 'institution_id = ?', param: actor.institutionId ?? '' };
    if (actor.role === 'city_admin') return {};
    return { clause: 'district_code = ?', param: actor.districtCode ?? '' };
  }

  router.get(
    '/follow-up-calls',
    route(async (req, res) => {
      const actor = requireRole(req, ...CALL_ROLES);
      const q = parseInput(req, listFollowUpCallsQuery, req.query, 'query');
      const where = ['status = ?'];
      const params: unknown[] = [q.status];
      const scope = scopeOf(actor);
      if (scope.clause) {
        where.push(scope.clause);
        params.push(scope.param);
      }
      if (q.due_before) {
        where.push('due_at < ?');
        params.push(new Date(q.due_before));
      }
      if (q.districtCode) {
        where.push('district_code = ?');
        params.push(q.districtCode);
      }
      const whereSql = `where ${where.join(' and ')}`;
      const rows = await em().execute<CallRow[]>(
        `select ${CALL_COLUMNS} from follow_up_call ${whereSql} order by due_at, id limit ? offset ?`,
        [...params, q.limit, q.offset],
      );
      const [{ total }] = await em().execute<Array<{ total: string }>>(
        `select count(*) as total from follow_up_call ${whereSql}`,
        params,
      );
      res.json({ items: rows.map(callView), total: Number(total), limit: q.limit, offset: q.offset });
    }),
  );

  router.post(
    '/follow-up-calls/:id/outcome',
    route(async (req, res) => {
      const actor = requireRole(req, ...CALL_ROLES);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const body = parseInput(req, followUpOutcomeBody, req.body ?? {}, 'body');
      const scope = scopeOf(actor);
      const [current] = await em().execute<CallRow[]>(
        `select ${CALL_COLUMNS} from follow_up_call where id = ?${scope.clause ? ` and ${scope.clause}` : ''}`,
        scope.clause ? [id, scope.param] : [id],
      );
      if (!current) throw new ApiError('FOLLOW_UP_CALL_NOT_FOUND', `follow-up call ${id} does not exist`);
      // A call that did not reach the person stays open for another attempt.
      const [updated] = await em().execute<CallRow[]>(
        `update follow_up_call set outcome = ?, reached = ?, attempts = attempts + 1, recorded_by = ?, recorded_at = now(),
           status = case when ? then 'done' else 'open' end
         where id = ? and status = 'open'
         returning ${CALL_COLUMNS}`,
        [body.outcome, body.reached, actor.id, body.reached, id],
      );
      if (!updated) throw new ApiError('FOLLOW_UP_CALL_DONE', `follow-up call ${id} was already completed`);

      if (updated.subject_kind !== 'order') {
        const workflowId =
          updated.subject_kind === 'case' ? careHomeWorkflowId(updated.subject_id) : accidentClaimWorkflowId(updated.subject_id);
        try {
          await ctx.temporal.workflow
            .getHandle(workflowId)
            .signal(followUpRecorded, { callId: id, reason: updated.reason, reached: body.reached, actor });
        } catch (err) {
          // A finished case keeps the outcome in this table only.
          ctx.logger.warn({ err, callId: id, workflowId }, 'follow-up outcome not delivered to its workflow');
        }
      }
      ctx.logger.info({ callId: id, reached: body.reached, subjectKind: updated.subject_kind }, 'follow-up call recorded');
      res.json(callView(updated));
    }),
  );

  return router;
}
