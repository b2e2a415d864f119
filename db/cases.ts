import { EntityManager } from '@mikro-orm/postgresql';
import type { CaseEvent, CaseKind } from '../domain/cases';
import type { ApplicantFacts, PlacementResult } from '../domain/care-home';
import { ageOn } from '../domain/resident-id';
import { personalAccountId } from './reference';

/*
 * SQL of the care-home cases and the case timeline, shared by the activities
 * and the API. Bed placement runs under a per-district advisory lock, so two
 * placements in one district never take the same bed or jump the queue.
 */

/** Reads what the care-home eligibility check needs about a person, as of `now`. */
export async function loadApplicantFacts(em: EntityManager, personId: string, now: Date): Promise<ApplicantFacts> {
  const rows = await em.execute<
    Array<{ birth_date: string; served_minutes: string; available: string | null; dishonest: boolean }>
  >(
    `select to_char(p.birth_date, 'YYYY-MM-DD') as birth_date, p.served_minutes,
            (select a.balance - a.reserved from account a where a.id = ?) as available,
            exists (select 1 from dishonesty_list d where d.person_id = p.id and d.removed_at is null) as dishonest
     from person p where p.id = ?`,
    [personalAccountId(personId), personId],
  );
  if (rows.length === 0) {
    return { found: false, ageYears: 0, servedMinutes: 0, availableMinutes: 0, onDishonestyList: false };
  }
  const row = rows[0];
  return {
    found: true,
    ageYears: ageOn(row.birth_date, now),
    servedMinutes: Number(row.served_minutes),
    availableMinutes: Number(row.available ?? 0),
    onDishonestyList: row.dishonest,
  };
}

async function lockDistrictQueue(tx: EntityManager, districtCode: string): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(hashtext(?))`, [`care_home_queue:${districtCode}`]);
}

async function countFreeBeds(tx: EntityManager, districtCode: string): Promise<number> {
  const [{ free }] = await tx.execute<Array<{ free: string }>>(
    `select count(*) as free from care_home_bed b join care_home h on h.id = b.care_home_id
     where h.district_code = ? and b.case_id is null`,
    [districtCode],
  );
  return Number(free);
}

/**
 * Places a waiting case in a free bed of its district, in application order:
 * while an earlier application of the district waits without a bed, this one
 * is not placed. A case that already has a bed gets that bed back, so a
 * retry after a crash places nothing twice.
 */
export async function allocateBed(
  em: EntityManager,
  input: { caseId: string; districtCode: string; careHomeId?: string },
): Promise<PlacementResult> {
  return em.transactional(async (tx) => {
    await lockDistrictQueue(tx, input.districtCode);
    const held = await tx.execute<Array<{ id: string; care_home_id: string }>>(
      `select id, care_home_id from care_home_bed where case_id = ?`,
      [input.caseId],
    );
    if (held.length > 0) {
      return {
        placed: true,
        careHomeId: held[0].care_home_id,
        bedId: held[0].id,
        casesAhead: 0,
        freeBeds: await countFreeBeds(tx, input.districtCode),
      };
    }
    const [{ ahead }] = await tx.execute<Array<{ ahead: string }>>(
      `select count(*) as ahead from care_home_case c, care_home_case me
       where me.id = ? and c.district_code = me.district_code and c.status = 'awaiting_placement'
         and (c.applied_at, c.id) < (me.applied_at, me.id)
         and not exists (select 1 from care_home_bed b where b.case_id = c.id)`,
      [input.caseId],
    );
    const casesAhead = Number(ahead);
    const freeBeds = await countFreeBeds(tx, input.districtCode);
    if (casesAhead > 0) return { placed: false, reason: 'not_first_in_queue', casesAhead, freeBeds };

    const beds = await tx.execute<Array<{ id: string; care_home_id: string }>>(
      `select b.id, b.care_home_id from care_home_bed b join care_home h on h.id = b.care_home_id
       where h.district_code = ? and b.case_id is null and (?::uuid is null or h.id = ?::uuid)
       order by h.created_at, h.id, b.created_at, b.label
       limit 1 for update of b`,
      [input.districtCode, input.careHomeId ?? null, input.careHomeId ?? null],
    );
    if (beds.length === 0) return { placed: false, reason: 'no_free_bed', casesAhead, freeBeds };
    await tx.execute(`update care_home_bed set case_id = ? where id = ?`, [input.caseId, beds[0].id]);
    return {
      placed: true,
      careHomeId: beds[0].care_home_id,
      bedId: beds[0].id,
      casesAhead: 0,
      freeBeds: freeBeds - 1,
    };
  });
}

/** Frees the bed a case holds, if any; returns whether one was freed. */
export async function releaseBedOf(em: EntityManager, caseId: string, districtCode: string): Promise<boolean> {
  return em.transactional(async (tx) => {
    await lockDistrictQueue(tx, districtCode);
    const freed = await tx.execute<Array<{ id: string }>>(
      `update care_home_bed set case_id = null where case_id = ? returning id`,
      [caseId],
    );
    return freed.length > 0;
  });
}

/** Ids of the district's cases waiting for a bed, in application order. */
export async function waitingCaseIds(em: EntityManager, districtCode: string): Promise<string[]> {
  const rows = await em.execute<Array<{ id: string }>>(
    `select id from care_home_case where district_code = ? and status = 'awaiting_placement' order by applied_at, id`,
    [districtCode],
  );
  return rows.map((r) => r.id);
}

/** Appends timeline events; events already stored under their number are left alone. */
export async function insertCaseEvents(em: EntityManager, kind: CaseKind, caseId: string, events: CaseEvent[]) {
  for (const e of events) {
    await em.execute(
      `insert into case_event (case_id, seq, case_kind, at, event, actor_id, on_behalf_of, detail)
       values (?, ?, ?, ?, ?, ?, ?, ?) on conflict (case_id, seq) do nothing`,
      [caseId, e.seq, kind, e.at, e.event, e.actorId ?? null, e.onBehalfOf ?? null, e.detail ?? null],
    );
  }
}

export interface CaseEventRow {
  seq: number;
  at: Date;
  event: string;
  actor_id: string | null;
  on_behalf_of: string | null;
  detail: string | null;
}

export async function listCaseEvents(em: EntityManager, caseId: string): Promise<CaseEventRow[]> {
  return em.execute<CaseEventRow[]>(
    `select seq, at, event, actor_id, on_behalf_of, detail from case_event where case_id = ? order by seq`,
    [caseId],
  );
}

/**
 * Creates a follow-up call (回访) about a case or claim for the institution of
 * the person's street, once per subject and reason.
 */
export async function insertFollowUpCall(
  em: EntityManager,
  input: { subjectKind: 'case' | 'claim'; subjectId: string; personId: string; reason: string; dueAt: string },
): Promise<void> {
  await em.execute(
    `insert into follow_up_call (id, subject_kind, subject_id, reason, district_code, institution_id, due_at)
     select gen_random_uuid(), ?, ?, ?, p.district_code,
            (select i.id from institution i where i.district_code = p.district_code
             order by (i.street_code = p.street_code) desc, i.confirmed_at limit 1),
            ?
     from person p where p.id = ?
     on conflict (subject_kind, subject_id, reason) do nothing`,
    [input.subjectKind, input.subjectId, input.reason, input.dueAt, input.personId],
  );
}

export interface CareHomeRow {
  id: string;
  district_code: string;
  name: string;
  created_at: Date;
}

export async function insertCareHome(
  em: EntityManager,
  input: { id: string; districtCode: string; name: string; createdBy: string },
): Promise<CareHomeRow | undefined> {
  const rows = await em.execute<CareHomeRow[]>(
    `insert into care_home (id, district_code, name, created_by) values (?, ?, ?, ?)
     on conflict (district_code, name) do nothing
     returning id, district_code, name, created_at`,
    [input.id, input.districtCode, input.name, input.createdBy],
  );
  return rows[0];
}

/** Adds beds by label to a home; labels that exist already are skipped. Returns the ids of new beds. */
export async function insertBeds(em: EntityManager, careHomeId: string, labels: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const label of labels) {
    const rows = await em.execute<Array<{ id: string }>>(
      `insert into care_home_bed (id, care_home_id, label) values (gen_random_uuid(), ?, ?)
       on conflict (care_home_id, label) do nothing returning id`,
      [careHomeId, label],
    );
    if (rows[0]) ids.push(rows[0].id);
  }
  return ids;
}

/**
 * Frees a bed whose resident has left. A bed held for a case still awaiting
 * admission is not vacated here, because that case must be withdrawn instead.
 */
export async function vacateBed(
  em: EntityManager,
  bedId: string,
): Promise<{ outcome: 'vacated' | 'already_free' | 'held_for_admission' | 'not_found'; districtCode?: string }> {
  return em.transactional(async (tx) => {
    const beds = await tx.execute<Array<{ case_id: string | null; district_code: string; case_status: string | null }>>(
      `select b.case_id, h.district_code, c.status as case_status
       from care_home_bed b join care_home h on h.id = b.care_home_id left join care_home_case c on c.id = b.case_id
       where b.id = ?`,
      [bedId],
    );
    if (beds.length === 0) return { outcome: 'not_found' };
    const bed = beds[0];
    if (bed.case_id === null) return { outcome: 'already_free', districtCode: bed.district_code };
    if (bed.case_status === 'awaiting_admission') return { outcome: 'held_for_admission', districtCode: bed.district_code };
    await lockDistrictQueue(tx, bed.district_code);
    await tx.execute(`update care_home_bed set case_id = null where id = ?`, [bedId]);
    return { outcome: 'vacated', districtCode: bed.district_code };
  });
}
