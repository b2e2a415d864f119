import { randomUUID } from 'node:crypto';
import { Request, Router } from 'express';
import { WorkflowIdConflictPolicy, WorkflowIdReusePolicy } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import { insertBeds, insertCareHome, loadApplicantFacts, vacateBed, waitingCaseIds } from '../db/cases';
import { eligibilityProblems, CareHomeWorkflowInput } from '../domain/care-home';
import { careHomeWorkflowId } from '../domain/cases';
import type { Actor } from '../domain/order';
import { CASE_KIND, DISTRICT_CODE } from '../domain/search-attributes';
import {
  admitCase,
  approveCase,
  bedsChanged,
  careHomeWorkflow,
  placeCase,
  recordAssessment,
  rejectCase,
  withdrawCase,
} from '../workflows/care-home';
import { actorOf, requireRole, staffCovers, subjectPersonId } from './auth';
import {
  addBedsBody,
  applyBody,
  assessmentBody,
  bedParams,
  createCareHomeBody,
  decisionBody,
  listCareHomesQuery,
  listCasesQuery,
  placementBody,
  rejectionBody,
  withdrawBody,
} from './case-schemas';
import { executeCaseUpdate, isUniqueViolation, readIdempotencyKey, timelineView } from './case-support';
import { AppContext, route } from './context';
import { ApiError, fieldError, parseInput, requestLang } from './problem';
import { idParams } from './schemas';
import { Filters, readPage } from './listing';

interface CaseRow {
  id: string;
  applicant_id: string;
  district_code: string;
  status: string;
  applied_at: Date;
  created_by: string;
  acting_agent_id: string | null;
  ability_level: number | null;
  decision_note: string | null;
  problems: string[];
  care_home_id: string | null;
  bed_id: string | null;
  updated_at: Date;
}

const CASE_COLUMNS = `id, applicant_id, district_code, status, applied_at, created_by, acting_agent_id, ability_level,
  decision_note, problems, care_home_id, bed_id, updated_at`;

function caseView(row: CaseRow) {
  return {
    id: row.id,
    kind: 'care_home',
    applicantId: row.applicant_id,
    districtCode: row.district_code,
    status: row.status,
    appliedAt: new Date(row.applied_at).toISOString(),
    actingAgentId: row.acting_agent_id ?? undefined,
    abilityLevel: row.ability_level ?? undefined,
    decisionNote: row.decision_note ?? undefined,
    problems: row.problems,
    careHomeId: row.care_home_id ?? undefined,
    bedId: row.bed_id ?? undefined,
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** Roles that decide on applications: district officers in their district, city administrators anywhere. */
const DECIDING_ROLES = ['district_officer', 'city_admin'] as const;

/**
 * Care-home admission applications (公办养老机构入住) and the public care homes
 * and beds a district maintains. Every step of an application goes through its
 * workflow, which returns the new state.
 */
export function casesRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  async function findCase(id: string): Promise<CaseRow | undefined> {
    const rows = await em().execute<CaseRow[]>(`select ${CASE_COLUMNS} from care_home_case where id = ?`, [id]);
    return rows[0];
  }

  /** Loads a case the actor may see; 404 otherwise, so ids cannot be probed. */
  async function loadVisibleCase(req: Request): Promise<{ row: CaseRow; actor: Actor }> {
    const actor = actorOf(req);
    const { id } = parseInput(req, idParams, req.params, 'params');
    const row = await findCase(id);
    const visible =
      row !== undefined &&
      (actor.role === 'volunteer' || actor.role === 'elder'
        ? row.applicant_id === actor.id
        : actor.role === 'agent'
          ? row.applicant_id === actor.onBehalfOf
          : staffCovers(actor, row.district_code));
    if (!visible) throw new ApiError('CASE_NOT_FOUND', `care-home application ${id} does not exist`);
    return { row: row!, actor };
  }

  async function respondWithCase(res: import('express').Response, id: string, status = 200) {
    const row = (await findCase(id))!;
    res.status(status).json({ ...caseView(row), timeline: await timelineView(ctx, id) });
  }

  async function startCaseWorkflow(row: CaseRow): Promise<void> {
    const input: CareHomeWorkflowInput = {
      caseId: row.id,
      applicantId: row.applicant_id,
      districtCode: row.district_code,
      appliedAt: new Date(row.applied_at).toISOString(),
      settings: { policy: ctx.config.policy, minuteMs: ctx.config.minuteMs },
    };
    await ctx.temporal.workflow.start(careHomeWorkflow, {
      taskQueue: ctx.config.temporal.taskQueue,
      workflowId: careHomeWorkflowId(row.id),
      args: [input],
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      workflowIdConflictPolicy: WorkflowIdConflictPolicy.USE_EXISTING,
      typedSearchAttributes: new TypedSearchAttributes([
        { key: CASE_KIND, value: 'care_home' },
        { key: DISTRICT_CODE, value: row.district_code },
      ]),
    });
  }

  /** Wakes the district's cases waiting for a bed after staff changed its beds. */
  async function wakeWaitingCases(districtCode: string): Promise<void> {
    for (const id of await waitingCaseIds(em(), districtCode)) {
      try {
        await ctx.temporal.workflow.getHandle(careHomeWorkflowId(id)).signal(bedsChanged);
      } catch (err) {
        // The waiting case retries at its monthly reminder anyway.
        ctx.logger.warn({ err, caseId: id }, 'could not wake a case waiting for a bed');
      }
    }
  }

  router.post(
    '/cases',
    route(async (req, res) => {
      const actor = requireRole(req, 'volunteer', 'agent');
      parseInput(req, applyBody, req.body ?? {}, 'body');
      const key = readIdempotencyKey(req, true, { zh: '提交入住申请时必须提供', en: 'required to apply' });
      const applicantId = subjectPersonId(actor);

      const existing = await em().execute<CaseRow[]>(
        `select ${CASE_COLUMNS} from care_home_case where created_by = ? and idempotency_key = ?`,
        [actor.id, key],
      );
      if (existing.length > 0) {
        if (existing[0].applicant_id !== applicantId) {
          throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} was used for another applicant`);
        }
        await startCaseWorkflow(existing[0]);
        await respondWithCase(res, existing[0].id);
        return;
      }

      const [person] = await em().execute<Array<{ district_code: string }>>(`select district_code from person where id = ?`, [
        applicantId,
      ]);
      if (!person) throw new ApiError('PERSON_NOT_FOUND', `person ${applicantId} does not exist`);
      // The workflow checks again; checking here spares the applicant a case that cannot succeed.
      const problems = eligibilityProblems(await loadApplicantFacts(em(), applicantId, new Date()), ctx.config.policy);
      if (problems.length > 0) {
        throw new ApiError('CASE_NOT_ELIGIBLE', {
          zh: `不符合入住条件：${problems.join('、')}`,
          en: `the applicant is not eligible: ${problems.join(', ')}`,
        });
      }

      const caseId = randomUUID();
      let inserted: CaseRow[];
      try {
        inserted = await em().execute<CaseRow[]>(
          `insert into care_home_case (id, applicant_id, district_code, status, created_by, acting_agent_id, idempotency_key)
           values (?, ?, ?, 'checking_eligibility', ?, ?, ?) returning ${CASE_COLUMNS}`,
          [caseId, applicantId, person.district_code, actor.id, actor.role === 'agent' ? actor.id : null, key],
        );
      } catch (err) {
        if (isUniqueViolation(err, 'care_home_case_open_idx')) {
          throw new ApiError('CASE_ALREADY_OPEN', `person ${applicantId} already has an open care-home application`);
        }
        if (isUniqueViolation(err)) {
          throw new ApiError('IDEMPOTENCY_CONFLICT', `Idempotency-Key ${key} is being used by a request in progress; retry`);
        }
        throw err;
      }
      try {
        await startCaseWorkflow(inserted[0]);
      } catch (err) {
        await em().execute(`delete from care_home_case where id = ?`, [caseId]);
        ctx.logger.error({ err, caseId }, 'care-home workflow could not be started; application removed');
        throw new ApiError('WORKFLOW_UNAVAILABLE', 'the application could not be started; retry with the same Idempotency-Key');
      }
      ctx.logger.info({ caseId, applicantId, agentId: actor.role === 'agent' ? actor.id : undefined }, 'care-home application filed');
      res.status(201).location(`/v1/cases/${caseId}`);
      await respondWithCase(res, caseId, 201);
    }),
  );

  router.get(
    '/cases',
    route(async (req, res) => {
      const actor = actorOf(req);
      const q = parseInput(req, listCasesQuery, req.query, 'query');
      const filters: Filters = [];
      if (actor.role === 'volunteer' || actor.role === 'elder' || actor.role === 'agent') {
        filters.push(['applicant_id', subjectPersonId(actor)]);
      } else if (actor.role !== 'city_admin' && actor.role !== 'operator') {
        filters.push(['district_code', actor.districtCode]);
      }
      filters.push(['status', q.status], ['district_code', q.districtCode]);
      const { rows, total } = await readPage<CaseRow>(em(), {
        table: 'care_home_case',
        columns: CASE_COLUMNS,
        orderBy: 'applied_at, id',
        filters,
        limit: q.limit,
        offset: q.offset,
      });
      res.json({ items: rows.map(caseView), total, limit: q.limit, offset: q.offset });
    }),
  );

  router.get(
    '/cases/:id',
    route(async (req, res) => {
      const { row } = await loadVisibleCase(req);
      await respondWithCase(res, row.id);
    }),
  );

  const target = (id: string) => ({
    workflowId: careHomeWorkflowId(id),
    subject: `care-home application ${id}`,
    conflict: 'CASE_STATE_CONFLICT' as const,
    notFound: 'CASE_NOT_FOUND' as const,
  });

  router.post(
    '/cases/:id/withdrawal',
    route(async (req, res) => {
      requireRole(req, 'volunteer', 'agent', ...DECIDING_ROLES);
      const body = parseInput(req, withdrawBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), withdrawCase, { actor, reason: body.reason });
      await respondWithCase(res, row.id);
    }),
  );

  router.post(
    '/cases/:id/assessment',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, assessmentBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), recordAssessment, { actor, ...body });
      await respondWithCase(res, row.id);
    }),
  );

  router.post(
    '/cases/:id/approval',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, decisionBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), approveCase, { actor, note: body.note });
      await respondWithCase(res, row.id);
    }),
  );

  router.post(
    '/cases/:id/rejection',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, rejectionBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), rejectCase, { actor, reason: body.reason });
      await respondWithCase(res, row.id);
    }),
  );

  router.post(
    '/cases/:id/placement',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, placementBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), placeCase, { actor, careHomeId: body.careHomeId });
      await respondWithCase(res, row.id);
    }),
  );

  router.post(
    '/cases/:id/admission',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, decisionBody, req.body ?? {}, 'body');
      const { row, actor } = await loadVisibleCase(req);
      await executeCaseUpdate(ctx, req, target(row.id), admitCase, { actor, note: body.note });
      await respondWithCase(res, row.id);
    }),
  );

  async function homeView(id: string) {
    const [home] = await em().execute<Array<{ id: string; district_code: string; name: string; created_at: Date }>>(
      `select id, district_code, name, created_at from care_home where id = ?`,
      [id],
    );
    const beds = await em().execute<Array<{ id: string; label: string; case_id: string | null }>>(
      `select id, label, case_id from care_home_bed where care_home_id = ? order by created_at, label`,
      [id],
    );
    return {
      id: home.id,
      districtCode: home.district_code,
      name: home.name,
      createdAt: new Date(home.created_at).toISOString(),
      beds: beds.map((b) => ({ id: b.id, label: b.label, caseId: b.case_id ?? undefined, free: b.case_id === null })),
    };
  }

  /** Loads a care home a staff member may maintain; 404 for homes of other districts. */
  async function loadMaintainedHome(req: Request, id: string): Promise<{ id: string; district_code: string }> {
    const actor = actorOf(req);
    const [home] = await em().execute<Array<{ id: string; district_code: string }>>(
      `select id, district_code from care_home where id = ?`,
      [id],
    );
    if (!home || !staffCovers(actor, home.district_code)) throw new ApiError('CARE_HOME_NOT_FOUND', `care home ${id} does not exist`);
    return home;
  }

  router.post(
    '/care-homes',
    route(async (req, res) => {
      const actor = requireRole(req, ...DECIDING_ROLES);
      const body = parseInput(req, createCareHomeBody, req.body ?? {}, 'body');
      const districtCode = body.districtCode ?? actor.districtCode;
      if (!districtCode) {
        throw fieldError('VALIDATION_FAILED', 'body.districtCode', '市级管理员须指明区', 'city administrators must name the district', requestLang(req));
      }
      if (!staffCovers(actor, districtCode)) throw new ApiError('FORBIDDEN', `you may not maintain care homes of district ${districtCode}`);
      const id = randomUUID();
      const home = await insertCareHome(em(), { id, districtCode, name: body.name, createdBy: actor.id });
      if (!home) throw new ApiError('IDEMPOTENCY_CONFLICT', `district ${districtCode} already has a care home named ${body.name}`);
      await insertBeds(em(), id, body.beds);
      if (body.beds.length > 0) await wakeWaitingCases(districtCode);
      ctx.logger.info({ careHomeId: id, districtCode, beds: body.beds.length }, 'care home created');
      res.status(201).location(`/v1/care-homes/${id}`).json(await homeView(id));
    }),
  );

  router.get(
    '/care-homes',
    route(async (req, res) => {
      const actor = requireRole(req, 'street_reviewer', ...DECIDING_ROLES);
      const q = parseInput(req, listCareHomesQuery, req.query, 'query');
      const districtCode = actor.role === 'city_admin' ? q.districtCode : actor.districtCode;
      const rows = await em().execute<Array<{ id: string }>>(
        `select id from care_home where (?::text is null or district_code = ?) order by created_at, id limit ? offset ?`,
        [districtCode ?? null, districtCode ?? null, q.limit, q.offset],
      );
      res.json({ items: await Promise.all(rows.map((r) => homeView(r.id))), limit: q.limit, offset: q.offset });
    }),
  );

  router.post(
    '/care-homes/:id/beds',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const { id } = parseInput(req, idParams, req.params, 'params');
      const body = parseInput(req, addBedsBody, req.body ?? {}, 'body');
      const home = await loadMaintainedHome(req, id);
      const added = await insertBeds(em(), id, body.labels);
      if (added.length > 0) await wakeWaitingCases(home.district_code);
      res.status(201).json(await homeView(id));
    }),
  );

  router.post(
    '/care-homes/:id/beds/:bedId/vacate',
    route(async (req, res) => {
      requireRole(req, ...DECIDING_ROLES);
      const { id, bedId } = parseInput(req, bedParams, req.params, 'params');
      const home = await loadMaintainedHome(req, id);
      const [bed] = await em().execute(`select id from care_home_bed where id = ? and care_home_id = ?`, [bedId, id]);
      if (!bed) throw new ApiError('CARE_HOME_NOT_FOUND', `care home ${id} has no bed ${bedId}`);
      const result = await vacateBed(em(), bedId);
      if (result.outcome === 'not_found') throw new ApiError('CARE_HOME_NOT_FOUND', `bed ${bedId} does not exist`);
      if (result.outcome === 'held_for_admission') {
        throw new ApiError('BED_OCCUPIED', `bed ${bedId} is held for an application awaiting admission; withdraw that application`);
      }
      if (result.outcome === 'vacated') await wakeWaitingCases(home.district_code);
      res.json(await homeView(id));
    }),
  );

  return router;
}
