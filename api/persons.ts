import { randomUUID } from 'node:crypto';
import { Request, Router } from 'express';
import type { EntityManager } from '@mikro-orm/postgresql';
import { recordAccess } from '../db/access-log';
import { findPerson, findPersonByResidentId, insertPersonRow, PersonRecord } from '../db/persons';
import { personalAccountId } from '../db/reference';
import type { Actor } from '../domain/order';
import { ageOn, maskPhone, maskResidentId, parseResidentId, shanghaiCalendarDate } from '../domain/resident-id';
import { actorOf, requireRole, staffCovers, STAFF_ROLES } from './auth';
import { AppContext, route } from './context';
import { ApiError, fieldError, Lang, parseInput, requestLang } from './problem';
import {
  FORBIDDEN_PERSONAL_FIELDS,
  idParams,
  registerElderBody,
  registerVolunteerBody,
  revealBody,
} from './schemas';

/** The fields a masked person record shows, as the access log names them. */
const VIEWED_FIELDS = ['name', 'birthDate', 'address', 'residentId', 'phone'];

/** A person as the API shows them: ID number and phone are always masked. */
function personView(person: PersonRecord) {
  return {
    id: person.id,
    residentId: maskResidentId(person.residentId),
    name: person.name,
    phone: maskPhone(person.phone),
    birthDate: person.birthDate,
    districtCode: person.districtCode,
    streetCode: person.streetCode,
    address: person.address,
    roles: [...(person.isElder ? ['elder'] : []), ...(person.isVolunteer ? ['volunteer'] : [])],
    volunteerStatus: person.isVolunteer ? person.volunteerStatus : undefined,
    insurance: person.isVolunteer ? person.insurance : undefined,
    insuranceConfirmedBy: person.insuranceConfirmedBy ?? undefined,
    insuranceConfirmedOn: person.insuranceConfirmedOn ?? undefined,
    trainedOn: person.trainedOn ?? undefined,
    guardianId: person.guardianId ?? undefined,
    servedMinutes: person.servedMinutes,
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

/** Today's date in Asia/Shanghai as YYYY-MM-DD, the calendar the registration dates use. */
function shanghaiToday(): string {
  const today = shanghaiCalendarDate(new Date());
  return `${today.year}-${String(today.month).padStart(2, '0')}-${String(today.day).padStart(2, '0')}`;
}

type VolunteerBody = ReturnType<typeof registerVolunteerBody.parse>;

/** Volunteer columns of a registration: training, insurance and, for a student, the guardian. */
interface VolunteerFields {
  trainedOn: string;
  insurance: 'registry' | 'organisation' | 'none';
  insuranceConfirmedBy: string | null;
  insuranceConfirmedOn: string | null;
  guardianId: string | null;
}

export function personsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();
  const cipher = ctx.personalData;

  /**
   * Checks the volunteer rules: the training record and insurance dates, and
   * for a person under 18 a guardian who is a registered, active adult
   * volunteer. Returns the columns to store.
   */
  async function checkVolunteer(body: VolunteerBody, birthDate: string, age: number, lang: Lang): Promise<VolunteerFields> {
    const { policy } = ctx.config;
    const today = shanghaiToday();
    if (body.trainedOn > today || body.trainedOn < birthDate) {
      throw fieldError(
        'VALIDATION_FAILED',
        'body.trainedOn',
        '培训日期不能晚于今天，也不能早于出生日期',
        'the training date must be neither after today nor before the birth date',
        lang,
      );
    }

    const insurance = body.insurance ?? 'none';
    if (insurance === 'organisation') {
      if (!body.insuranceConfirmedBy) {
        throw fieldError('VALIDATION_FAILED', 'body.insuranceConfirmedBy', '由组织确认保险时必须填写确认组织', 'required with insurance organisation', lang);
      }
      if (!body.insuranceConfirmedOn) {
        throw fieldError('VALIDATION_FAILED', 'body.insuranceConfirmedOn', '由组织确认保险时必须填写确认日期', 'required with insurance organisation', lang);
      }
      if (body.insuranceConfirmedOn > today) {
        throw fieldError('VALIDATION_FAILED', 'body.insuranceConfirmedOn', '确认日期不能晚于今天', 'must not be after today', lang);
      }
    } else {
      for (const field of ['insuranceConfirmedBy', 'insuranceConfirmedOn'] as const) {
        if (body[field] !== undefined) {
          throw fieldError(
            'VALIDATION_FAILED',
            `body.${field}`,
            '仅在 insurance 为 organisation 时填写',
            'allowed only with insurance organisation',
            lang,
          );
        }
      }
    }

    const fields: VolunteerFields = {
      trainedOn: body.trainedOn,
      insurance,
      insuranceConfirmedBy: body.insuranceConfirmedBy ?? null,
      insuranceConfirmedOn: body.insuranceConfirmedOn ?? null,
      guardianId: null,
    };
    if (age >= policy.volunteerMinAge) {
      if (body.guardianId !== undefined) {
        throw fieldError(
          'VALIDATION_FAILED',
          'body.guardianId',
          `仅未满 ${policy.volunteerMinAge} 周岁的学生志愿者需要监护人`,
          `only a student under ${policy.volunteerMinAge} registers with a guardian`,
          lang,
        );
      }
      return fields;
    }
    if (age < policy.studentVolunteerMinAge) {
      throw fieldError(
        'TOO_YOUNG',
        'body.residentId',
        `学生志愿者须年满 ${policy.studentVolunteerMinAge} 周岁，当前 ${age} 周岁`,
        `student volunteers must be at least ${policy.studentVolunteerMinAge}; this person is ${age}`,
        lang,
      );
    }
    if (body.guardianId === undefined) {
      throw fieldError(
        'TOO_YOUNG',
        'body.guardianId',
        `未满 ${policy.volunteerMinAge} 周岁（当前 ${age} 周岁）须由已登记的成年志愿者作为监护人`,
        `a volunteer under ${policy.volunteerMinAge} (this person is ${age}) needs a registered adult volunteer as guardian`,
        lang,
      );
    }
    const guardian = await findPerson(em(), cipher, body.guardianId);
    if (
      !guardian ||
      !guardian.isVolunteer ||
      guardian.volunteerStatus !== 'active' ||
      ageOn(guardian.birthDate, new Date()) < policy.volunteerMinAge
    ) {
      throw fieldError(
        'GUARDIAN_INVALID',
        'body.guardianId',
        '监护人须为已登记、年满 18 周岁且资格有效的志愿者',
        'must be a registered, active volunteer aged 18 or over',
        lang,
      );
    }
    return { ...fields, guardianId: guardian.id };
  }

  /** Returns the district of the agent's institution, the only district where the agent may register people. */
  async function agentDistrict(actor: Actor): Promise<string | undefined> {
    const [row] = await em().execute<Array<{ district_code: string }>>(
      `select district_code from institution where id = ?`,
      [actor.institutionId],
    );
    return row?.district_code;
  }

  async function register(req: Request, role: 'elder' | 'volunteer'): Promise<PersonRecord> {
    const actor = requireRole(req, 'agent', ...STAFF_ROLES);
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
    const birthDate = parsedId.value.birthDate;
    const age = ageOn(birthDate, new Date());
    const { policy } = ctx.config;
    if (role === 'elder' && age < policy.elderMinAge) {
      throw fieldError(
        'TOO_YOUNG',
        'body.residentId',
        `老年人须年满 ${policy.elderMinAge} 周岁，当前 ${age} 周岁`,
        `elders must be at least ${policy.elderMinAge}; this person is ${age}`,
        lang,
      );
    }
    const streets = await em().execute<Array<{ district_code: string }>>(`select district_code from street where code = ?`, [
      body.streetCode,
    ]);
    if (streets.length === 0) throw fieldError('VALIDATION_FAILED', 'body.streetCode', '街道编码不存在', 'no such street', lang);
    const districtCode = streets[0].district_code;
    const actorDistrict = actor.role === 'agent' ? await agentDistrict(actor) : undefined;
    if (actor.role === 'agent' ? actorDistrict !== districtCode : !staffCovers(actor, districtCode)) {
      throw new ApiError('FORBIDDEN', `${actor.role} ${actor.id} cannot register people in district ${districtCode}`);
    }
    const volunteer = role === 'volunteer' ? await checkVolunteer(body as VolunteerBody, birthDate, age, lang) : undefined;

    const residentId = parsedId.value.id;
    // One person per resident ID for life: a second role is added to the existing person.
    let result: { person: PersonRecord; created: boolean };
    try {
      result = await em().transactional(async (tx) => {
        const existing = await findPersonByResidentId(tx, cipher, residentId, true);
        if (existing) {
          const hasRole = role === 'elder' ? existing.isElder : existing.isVolunteer;
          if (hasRole) return { person: existing, created: false };
          await addRole(tx, existing.id, volunteer);
          return { person: (await findPerson(tx, cipher, existing.id))!, created: true };
        }
        const id = randomUUID();
        await insertPersonRow(tx, cipher, {
          id,
          residentId,
          phone: body.phone,
          name: body.name,
          birthDate,
          districtCode,
          streetCode: body.streetCode,
          address: body.address,
          isElder: role === 'elder',
          isVolunteer: role === 'volunteer',
          insurance: volunteer?.insurance ?? 'none',
          insuranceConfirmedBy: volunteer?.insuranceConfirmedBy,
          insuranceConfirmedOn: volunteer?.insuranceConfirmedOn,
          trainedOn: volunteer?.trainedOn,
          guardianId: volunteer?.guardianId,
          registeredBy: actor.id,
        });
        await tx.execute(`insert into account (id, kind, person_id) values (?, 'personal', ?)`, [personalAccountId(id), id]);
        return { person: (await findPerson(tx, cipher, id))!, created: true };
      });
    } catch (err) {
      // A concurrent registration of the same number committed first.
      const pgError = err as { code?: string; constraint?: string };
      if (pgError.code === '23505' && pgError.constraint === 'person_resident_id_hash_key') {
        throw new ApiError('RESIDENT_ID_TAKEN', 'a person with this resident ID was registered at the same time; read that record');
      }
      throw err;
    }
    if (!result.created) {
      throw new ApiError('RESIDENT_ID_TAKEN', `a ${role} with this resident ID is already registered as ${result.person.id}`);
    }
    ctx.logger.info(
      { personId: result.person.id, role, actorId: actor.id, institutionId: actor.institutionId },
      'person registered',
    );
    return result.person;
  }

  async function addRole(tx: EntityManager, personId: string, volunteer: VolunteerFields | undefined): Promise<void> {
    if (!volunteer) {
      await tx.execute(`update person set is_elder = true where id = ?`, [personId]);
      return;
    }
    await tx.execute(
      `update person set is_volunteer = true, trained_on = ?, insurance = ?, insurance_confirmed_by = ?,
         insurance_confirmed_on = ?, guardian_id = ?
       where id = ?`,
      [
        volunteer.trainedOn,
        volunteer.insurance,
        volunteer.insuranceConfirmedBy,
        volunteer.insuranceConfirmedOn,
        volunteer.guardianId,
        personId,
      ],
    );
  }

  router.post(
    '/elders',
    route(async (req, res) => {
      const person = await register(req, 'elder');
      res.status(201).location(`/v1/persons/${person.id}`).json(personView(person));
    }),
  );

  router.post(
    '/volunteers',
    route(async (req, res) => {
      const person = await register(req, 'volunteer');
      res.status(201).location(`/v1/persons/${person.id}`).json(personView(person));
    }),
  );

  /**
   * Returns the person with ID and phone numbers masked. The person, an agent
   * acting for them with consent, the guardian of a student volunteer and
   * staff of their district may read it. Every staff read is written to the
   * access log.
   */
  router.get(
    '/persons/:id',
    route(async (req, res) => {
      const actor = actorOf(req);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const person = await findPerson(em(), cipher, id);
      const self = (actor.role !== 'agent' && actor.id === id) || actor.onBehalfOf === id;
      const guardian = actor.role === 'volunteer' && person?.guardianId === actor.id;
      const staff = STAFF_ROLES.includes(actor.role) && person !== undefined && staffCovers(actor, person.districtCode);
      if (!person || !(self || guardian || staff)) {
        throw new ApiError('PERSON_NOT_FOUND', `person ${id} does not exist`);
      }
      if (staff) await recordAccess(em(), { actor, personId: id, action: 'view', fields: VIEWED_FIELDS });
      res.set('Cache-Control', 'no-store').json(personView(person));
    }),
  );

  /**
   * Shows one full personal data value to staff of the person's district and
   * records who saw which field and why before it is returned.
   */
  router.post(
    '/persons/:id/reveal',
    route(async (req, res) => {
      const actor = requireRole(req, 'street_reviewer', 'district_officer');
      const { id } = parseInput(req, idParams, req.params, 'params');
      const body = parseInput(req, revealBody, req.body ?? {}, 'body');
      const person = await findPerson(em(), cipher, id);
      if (!person || !staffCovers(actor, person.districtCode)) {
        throw new ApiError('PERSON_NOT_FOUND', `person ${id} does not exist in district ${actor.districtCode}`);
      }
      const accessLogId = await recordAccess(em(), {
        actor,
        personId: id,
        action: 'reveal',
        fields: [body.field],
        reason: body.reason,
      });
      ctx.logger.info({ personId: id, field: body.field, actorId: actor.id, accessLogId }, 'personal data revealed');
      res.set('Cache-Control', 'no-store').json({ personId: id, field: body.field, value: person[body.field], accessLogId });
    }),
  );

  return router;
}
