import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { z } from 'zod';
import { actorOf, requireRole, staffCovers, subjectPersonId } from './auth';
import { AppContext, route } from './context';
import { ApiError, parseInput } from './problem';
import { idParams } from './schemas';

export const claimRelationshipBody = z
  .strictObject({
    relativeId: z.uuid(),
    kind: z.enum(['parent', 'grandparent', 'child', 'grandchild', 'spouse']),
  })
  .openapi('ClaimRelationship');

export const reviewRelationshipBody = z
  .strictObject({
    decision: z.enum(['verify', 'reject']),
    note: z.string().trim().min(1).max(500).optional(),
  })
  .openapi('ReviewRelationship');

interface RelationshipRow {
  id: string;
  person_id: string;
  relative_id: string;
  kind: string;
  status: string;
  claimed_at: Date;
  reviewed_at: Date | null;
  review_note: string | null;
}

function relationshipView(row: RelationshipRow) {
  return {
    id: row.id,
    personId: row.person_id,
    relativeId: row.relative_id,
    kind: row.kind,
    status: row.status,
    claimedAt: new Date(row.claimed_at).toISOString(),
    reviewedAt: row.reviewed_at ? new Date(row.reviewed_at).toISOString() : undefined,
    reviewNote: row.review_note ?? undefined,
  };
}

const COLUMNS = 'id, person_id, relative_id, kind, status, claimed_at, reviewed_at, review_note';

/**
 * Direct relatives (直系亲属): a person claims a relationship, street staff
 * of the person's district verify or reject it.
 */
export function relativesRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  router.post(
    '/persons/:id/relationships',
    route(async (req, res) => {
      const actor = requireRole(req, 'elder', 'volunteer', 'agent');
      const { id } = parseInput(req, idParams, req.params, 'params');
      const body = parseInput(req, claimRelationshipBody, req.body ?? {}, 'body');
      if (subjectPersonId(actor) !== id) throw new ApiError('FORBIDDEN', 'a relationship is claimed by the person themselves');
      if (body.relativeId === id) {
        throw new ApiError('VALIDATION_FAILED', 'body.relativeId: a person is not their own relative', [
          { field: 'body.relativeId', message: { zh: 'body.relativeId: 不能填写本人', en: 'body.relativeId: cannot be the person themselves' } },
        ]);
      }
      const people = await em().execute<Array<{ id: string }>>(`select id from person where id in (?, ?)`, [id, body.relativeId]);
      if (people.length < 2) throw new ApiError('PERSON_NOT_FOUND', `person ${body.relativeId} does not exist`);
      const rows = await em().execute<RelationshipRow[]>(
        `insert into person_relationship (id, person_id, relative_id, kind, claimed_by) values (?, ?, ?, ?, ?)
         on conflict (person_id, relative_id, kind) do update set kind = excluded.kind
         returning ${COLUMNS}`,
        [randomUUID(), id, body.relativeId, body.kind, actor.id],
      );
      ctx.logger.info({ relationshipId: rows[0].id, personId: id, actorId: actor.id }, 'relationship claimed');
      res.status(201).json(relationshipView(rows[0]));
    }),
  );

  router.get(
    '/persons/:id/relationships',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const [person] = await em().execute<Array<{ district_code: string }>>(`select district_code from person where id = ?`, [id]);
      const self = actor.id === id || actor.onBehalfOf === id;
      const staff = ['street_reviewer', 'district_officer', 'city_admin'].includes(actor.role);
      if (!person || !(self || (staff && staffCovers(actor, person.district_code)))) {
        throw new ApiError('PERSON_NOT_FOUND', `person ${id} does not exist`);
      }
      const rows = await em().execute<RelationshipRow[]>(
        `select ${COLUMNS} from person_relationship where person_id = ? or relative_id = ? order by claimed_at`,
        [id, id],
      );
      res.json({ items: rows.map(relationshipView) });
    }),
  );

  router.post(
    '/relationships/:id/review',
    route(async (req, res) => {
      const actor = requireRole(req, 'street_reviewer', 'district_officer', 'city_admin');
      const { id } = parseInput(req, idParams, req.params, 'params');
      const body = parseInput(req, reviewRelationshipBody, req.body ?? {}, 'body');
      if (body.decision === 'reject' && !body.note) {
        throw new ApiError('VALIDATION_FAILED', 'body.note: a rejection needs a reason', [
          { field: 'body.note', message: { zh: 'body.note: 驳回时必须填写理由', en: 'body.note: a rejection needs a reason' } },
        ]);
      }
      const [row] = await em().execute<Array<RelationshipRow & { district_code: string }>>(
        `select r.id, r.status, p.district_code from person_relationship r join person p on p.id = r.person_id where r.id = ?`,
        [id],
      );
      if (!row || !staffCovers(actor, row.district_code)) throw new ApiError('NOT_FOUND', `relationship ${id} does not exist`);
      if (row.status !== 'claimed') throw new ApiError('ORDER_STATE_CONFLICT', `relationship ${id} is already ${row.status}`);
      const [updated] = await em().execute<RelationshipRow[]>(
        `update person_relationship set status = ?, reviewed_by = ?, reviewed_at = now(), review_note = ?
         where id = ? and status = 'claimed' returning ${COLUMNS}`,
        [body.decision === 'verify' ? 'verified' : 'rejected', actor.id, body.note ?? null, id],
      );
      if (!updated) throw new ApiError('ORDER_STATE_CONFLICT', `relationship ${id} was reviewed by someone else`);
      ctx.logger.info({ relationshipId: id, decision: body.decision, actorId: actor.id }, 'relationship reviewed');
      res.json(relationshipView(updated));
    }),
  );

  return router;
}
