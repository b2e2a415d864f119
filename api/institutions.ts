import { randomUUID } from 'node:crypto';
import { Request, Router } from 'express';
import { createStaffAccount, LoginTakenError } from '../db/staff';
import type { Actor } from '../domain/order';
import { actorOf, requireRole, staffCovers, STAFF_ROLES } from './auth';
import { AppContext, route } from './context';
import { ApiError, fieldError, parseInput, requestLang } from './problem';
import { agentBody, consentBody, consentParams, idParams, institutionBody } from './schemas';

/*
 * Institutions (专业机构) confirmed by a street office, their agents, and
 * the consents that let an institution's agents act for a person.
 */

interface InstitutionRow {
  id: string;
  name: string;
  district_code: string;
  street_code: string;
  confirmed_at: Date;
  confirmed_by: string | null;
}

function institutionView(row: InstitutionRow) {
  return {
    id: row.id,
    name: row.name,
    districtCode: row.district_code,
    streetCode: row.street_code,
    confirmedAt: new Date(row.confirmed_at).toISOString(),
    confirmedBy: row.confirmed_by ?? undefined,
  };
}

interface ConsentRow {
  id: string;
  person_id: string;
  institution_id: string;
  granted_by: string;
  granted_by_role: string;
  granted_at: Date;
  revoked_by: string | null;
  revoked_at: Date | null;
}

function consentView(row: ConsentRow) {
  return {
    id: row.id,
    personId: row.person_id,
    institutionId: row.institution_id,
    grantedBy: row.granted_by,
    grantedByRole: row.granted_by_role,
    grantedAt: new Date(row.granted_at).toISOString(),
    revokedBy: row.revoked_by ?? undefined,
    revokedAt: row.revoked_at ? new Date(row.revoked_at).toISOString() : undefined,
  };
}

const CONSENT_COLUMNS = 'id, person_id, institution_id, granted_by, granted_by_role, granted_at, revoked_by, revoked_at';
const INSTITUTION_COLUMNS = 'id, name, district_code, street_code, confirmed_at, confirmed_by';

export function institutionsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  async function findInstitution(id: string): Promise<InstitutionRow | undefined> {
    const [row] = await em().execute<InstitutionRow[]>(`select ${INSTITUTION_COLUMNS} from institution where id = ?`, [id]);
    return row;
  }

  /** Loads the institution for a street reviewer of its district; 404 for institutions elsewhere, so ids are not probed. */
  async function loadInstitutionForReviewer(req: Request): Promise<{ actor: Actor; institution: InstitutionRow }> {
    const actor = requireRole(req, 'street_reviewer');
    const { id } = parseInput(req, idParams, req.params, 'params');
    const institution = await findInstitution(id);
    if (!institution || !staffCovers(actor, institution.district_code)) {
      throw new ApiError('INSTITUTION_NOT_FOUND', `institution ${id} does not exist in district ${actor.districtCode}`);
    }
    return { actor, institution };
  }

  /** A street office confirms an institution of its district. */
  router.post(
    '/institutions',
    route(async (req, res) => {
      const actor = requireRole(req, 'street_reviewer');
      const lang = requestLang(req);
      const body = parseInput(req, institutionBody, req.body ?? {}, 'body');
      const [street] = await em().execute<Array<{ district_code: string }>>(`select district_code from street where code = ?`, [
        body.streetCode,
      ]);
      if (!street) throw fieldError('VALIDATION_FAILED', 'body.streetCode', '街道编码不存在', 'no such street', lang);
      if (!staffCovers(actor, street.district_code)) {
        throw new ApiError('FORBIDDEN', `a reviewer of district ${actor.districtCode} cannot confirm institutions in ${street.district_code}`);
      }
      const [row] = await em().execute<InstitutionRow[]>(
        `insert into institution (id, name, district_code, street_code, confirmed_by) values (?, ?, ?, ?, ?)
         returning ${INSTITUTION_COLUMNS}`,
        [randomUUID(), body.name, street.district_code, body.streetCode, actor.id],
      );
      ctx.logger.info({ institutionId: row.id, actorId: actor.id }, 'institution confirmed');
      res.status(201).location(`/v1/institutions/${row.id}`).json(institutionView(row));
    }),
  );

  router.get(
    '/institutions/:id',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const institution = await findInstitution(id);
      const visible =
        institution !== undefined &&
        ((STAFF_ROLES.includes(actor.role) && staffCovers(actor, institution.district_code)) ||
          (actor.role === 'agent' && actor.institutionId === id));
      if (!visible) throw new ApiError('INSTITUTION_NOT_FOUND', `institution ${id} does not exist`);
      res.json(institutionView(institution!));
    }),
  );

  /** Creates a sign-in account for an agent of the institution. */
  router.post(
    '/institutions/:id/agents',
    route(async (req, res) => {
      const { actor, institution } = await loadInstitutionForReviewer(req);
      const body = parseInput(req, agentBody, req.body ?? {}, 'body');
      try {
        const id = await createStaffAccount(em(), {
          name: body.name,
          role: 'agent',
          districtCode: institution.district_code,
          institutionId: institution.id,
          login: body.login,
          password: body.password,
          createdBy: actor.id,
        });
        ctx.logger.info({ agentId: id, institutionId: institution.id, actorId: actor.id }, 'agent account created');
        res.status(201).json({ id, name: body.name, login: body.login, institutionId: institution.id });
      } catch (err) {
        if (err instanceof LoginTakenError) {
          throw fieldError('LOGIN_TAKEN', 'body.login', '该登录名已被使用', 'already in use', requestLang(req));
        }
        throw err;
      }
    }),
  );

  /** Checks that the actor is the person or staff of the person's district; 404 otherwise. */
  async function authorizeConsentChange(req: Request, personId: string): Promise<Actor> {
    const actor = requireRole(req, 'elder', 'volunteer', ...STAFF_ROLES);
    const [person] = await em().execute<Array<{ district_code: string }>>(`select district_code from person where id = ?`, [
      personId,
    ]);
    const allowed =
      person !== undefined &&
      (STAFF_ROLES.includes(actor.role) ? staffCovers(actor, person.district_code) : actor.id === personId);
    if (!allowed) throw new ApiError('PERSON_NOT_FOUND', `person ${personId} does not exist`);
    return actor;
  }

  /**
   * Records that the person lets an institution's agents act for them.
   * Returns 201 for a new consent and 200 when one is already in force.
   */
  router.post(
    '/persons/:id/consents',
    route(async (req, res) => {
      const { id } = parseInput(req, idParams, req.params, 'params');
      const actor = await authorizeConsentChange(req, id);
      const body = parseInput(req, consentBody, req.body ?? {}, 'body');
      if (!(await findInstitution(body.institutionId))) {
        throw fieldError('INSTITUTION_NOT_FOUND', 'body.institutionId', '机构不存在', 'no such institution', requestLang(req));
      }
      const inserted = await em().execute<ConsentRow[]>(
        `insert into agent_consent (id, person_id, institution_id, granted_by, granted_by_role) values (?, ?, ?, ?, ?)
         on conflict (person_id, institution_id) where revoked_at is null do nothing
         returning ${CONSENT_COLUMNS}`,
        [randomUUID(), id, body.institutionId, actor.id, actor.role],
      );
      if (inserted.length > 0) {
        ctx.logger.info({ personId: id, institutionId: body.institutionId, actorId: actor.id }, 'agent consent recorded');
        res.status(201).json(consentView(inserted[0]));
        return;
      }
      const [current] = await em().execute<ConsentRow[]>(
        `select ${CONSENT_COLUMNS} from agent_consent where person_id = ? and institution_id = ? and revoked_at is null`,
        [id, body.institutionId],
      );
      res.status(200).json(consentView(current));
    }),
  );

  router.delete(
    '/persons/:id/consents/:institutionId',
    route(async (req, res) => {
      const { id, institutionId } = parseInput(req, consentParams, req.params, 'params');
      const actor = await authorizeConsentChange(req, id);
      const [revoked] = await em().execute<ConsentRow[]>(
        `update agent_consent set revoked_at = now(), revoked_by = ?
         where person_id = ? and institution_id = ? and revoked_at is null
         returning ${CONSENT_COLUMNS}`,
        [actor.id, id, institutionId],
      );
      if (!revoked) throw new ApiError('CONSENT_NOT_FOUND', `person ${id} has no consent in force for institution ${institutionId}`);
      ctx.logger.info({ personId: id, institutionId, actorId: actor.id }, 'agent consent revoked');
      res.json(consentView(revoked));
    }),
  );

  return router;
}
