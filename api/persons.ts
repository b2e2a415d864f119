import { randomUUID } from 'node:crypto';
import { Router, Request } from 'express';
import { personalAccountId } from '../db/reference';
import { ageOn, maskPhone, maskResidentId, parseResidentId } from '../domain/resident-id';
import { actorOf, requireRole, staffCovers } from './auth';
import { AppContext, route } from './context';
import { ApiError, fieldError, Lang, parseInput, requestLang } from './problem';
import { FORBIDDEN_PERSONAL_FIELDS, idParams, registerElderBody, registerVolunteerBody } from './schemas';

interface PersonRow {
  id: string;
  resident_id: string;
  name: string;
  phone: string;
  birth_date: string;
  district_code: string;
  street_code: string;
  address: string;
  is_elder: boolean;
  is_volunteer: boolean;
  volunteer_status: string;
  insurance: string;
  trained_on: string | null;
  served_minutes: string;
}

const PERSON_COLUMNS = `id, resident_id, name, phone, to_char(birth_date, 'YYYY-MM-DD') as birth_date, district_code,
  street_code, address, is_elder, is_volunteer, volunteer_status, insurance,
  to_char(trained_on, 'YYYY-MM-DD') as trained_on, served_minutes`;

/** A person as the API shows them: ID number and phone are always masked. */
function personView(row: PersonRow) {
  return {
    id: row.id,
    residentId: maskResidentId(row.resident_id),
    name: row.name,
    phone: maskPhone(row.phone),
    birthDate: row.birth_date,
    districtCode: row.district_code,
    streetCode: row.street_code,
    address: row.address,
    roles: [...(row.is_elder ? ['elder'] : []), ...(row.is_volunteer ? ['volunteer'] : [])],
    volunteerStatus: row.is_volunteer ? row.volunteer_status : undefined,
    insurance: row.is_volunteer ? row.insurance : undefined,
    trainedOn: row.trained_on ?? undefined,
    servedMinutes: Number(row.served_minutes),
  };
}

/** Rejects data the scheme must never collect, naming the field instead of dropping it silently. */
function rejectForbiddenFields(body: unknown, lang: Lang): void {
  if (typeof body !== 'object' || body === null) return;
  for (const field of FORBIDDEN_PERSONAL_FIELDS) {
    if (field in body) {
      throw fieldError(
        'VALIDATION_FAILED',
        `body.${field}`,
        '本系统不收集宗教、病史、血型、指纹或基因信息',
        'the time bank never collects religion, medical history, blood type, fingerprints or genetic data',
        lang,
      );
    }
  }
}

export function personsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  async function register(req: Request, role: 'elder' | 'volunteer') {
    const actor = requireRole(req, 'agent', 'street_reviewer', 'district_officer', 'city_admin');
    const lang = requestLang(req);
    rejectForbiddenFields(req.body, lang);
    const body =
      role === 'elder'
        ? parseInput(req, registerElderBody, req.body ?? {}, 'body')
        : parseInput(req, registerVolunteerBody, req.body ?? {}, 'body');

    const parsedId = parseResidentId(body.residentId);
    if (!parsedId.ok) {
      const reasons = {
        format: ['格式不正确', 'wrong format'],
        check_digit: ['校验码不正确', 'the check digit does not match'],
        birth_date: ['出生日期无效', 'the birth date is invalid'],
      } as const;
      const [zh, en] = reasons[parsedId.reason];
      throw fieldError('RESIDENT_ID_INVALID', 'body.residentId', zh, en, lang);
    }
    const age = ageOn(parsedId.value.birthDate, new Date());
    const minAge = role === 'elder' ? ctx.config.policy.elderMinAge : ctx.config.policy.volunteerMinAge;
    if (age < minAge) {
      throw fieldError(
        'TOO_YOUNG',
        'body.residentId',
        `${role === 'elder' ? '老年人' : '志愿者'}须年满 ${minAge} 周岁，当前 ${age} 周岁`,
        `${role === 'elder' ? 'elders' : 'volunteers'} must be at least ${minAge}; this person is ${age}`,
        lang,
      );
    }
    const streets = await em().execute<Array<{ district_code: string }>>(`select district_code from street where code = ?`, [
      body.streetCode,
    ]);
    if (streets.length === 0) throw fieldError('VALIDATION_FAILED', 'body.streetCode', '街道编码不存在', 'no such street', lang);
    const districtCode = streets[0].district_code;
    if (actor.role !== 'agent' && !staffCovers(actor, districtCode)) {
      throw new ApiError('FORBIDDEN', `staff of district ${actor.districtCode} cannot register people in ${districtCode}`);
    }

    const residentId = parsedId.value.id;
    const trainedOn = 'trainedOn' in body ? body.trainedOn : null;
    const insurance = 'insurance' in body && body.insurance ? body.insurance : 'none';

    // One person per resident ID for life: a second role is added to the existing person.
    const result = await em().transactional(async (tx) => {
      const existing = await tx.execute<PersonRow[]>(`select ${PERSON_COLUMNS} from person where resident_id = ? for update`, [
        residentId,
      ]);
      if (existing.length > 0) {
        const person = existing[0];
        const hasRole = role === 'elder' ? person.is_elder : person.is_volunteer;
        if (hasRole) return { row: person, created: false };
        await tx.execute(
          role === 'elder'
            ? `update person set is_elder = true where id = ?`
            : `update person set is_volunteer = true, trained_on = ?, insurance = ? where id = ?`,
          role === 'elder' ? [person.id] : [trainedOn, insurance, person.id],
        );
        const [updated] = await tx.execute<PersonRow[]>(`select ${PERSON_COLUMNS} from person where id = ?`, [person.id]);
        return { row: updated, created: true };
      }
      const id = randomUUID();
      await tx.execute(
        `insert into person (id, resident_id, name, phone, birth_date, district_code, street_code, address,
           is_elder, is_volunteer, insurance, trained_on)
         values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          id,
          residentId,
          body.name,
          body.phone,
          parsedId.value.birthDate,
          districtCode,
          body.streetCode,
          body.address,
          role === 'elder',
          role === 'volunteer',
          insurance,
          trainedOn,
        ],
      );
      await tx.execute(`insert into account (id, kind, person_id) values (?, 'personal', ?)`, [personalAccountId(id), id]);
      const [row] = await tx.execute<PersonRow[]>(`select ${PERSON_COLUMNS} from person where id = ?`, [id]);
      return { row, created: true };
    });
    if (!result.created) {
      throw new ApiError('RESIDENT_ID_TAKEN', `a ${role} with this resident ID is already registered as ${result.row.id}`);
    }
    ctx.logger.info({ personId: result.row.id, role, actorId: actor.id }, 'person registered');
    return result.row;
  }

  router.post(
    '/elders',
    route(async (req, res) => {
      const row = await register(req, 'elder');
      res.status(201).location(`/v1/persons/${row.id}`).json(personView(row));
    }),
  );

  router.post(
    '/volunteers',
    route(async (req, res) => {
      const row = await register(req, 'volunteer');
      res.status(201).location(`/v1/persons/${row.id}`).json(personView(row));
    }),
  );

  router.get(
    '/persons/:id',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const rows = await em().execute<PersonRow[]>(`select ${PERSON_COLUMNS} from person where id = ?`, [id]);
      const row = rows[0];
      const self = actor.id === id || actor.onBehalfOf === id;
      const staff = ['street_reviewer', 'district_officer', 'city_admin'].includes(actor.role);
      if (!row || !(self || (staff && staffCovers(actor, row.district_code)))) {
        throw new ApiError('PERSON_NOT_FOUND', `person ${id} does not exist`);
      }
      res.json(personView(row));
    }),
  );

  return router;
}
