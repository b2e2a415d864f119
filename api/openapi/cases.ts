import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { ErrorCode } from '../../domain/errors';
import { STAFF_ROLES } from '../auth';
import {
  addBedsBody,
  applyBody,
  assessmentBody,
  bedParams,
  closeClaimBody,
  createCareHomeBody,
  decisionBody,
  followUpOutcomeBody,
  listCareHomesQuery,
  listCasesQuery,
  listClaimsQuery,
  listFollowUpCallsQuery,
  placementBody,
  rejectionBody,
  reportAccidentBody,
  withdrawBody,
} from '../case-schemas';
import { emptyBody, idParams } from '../schemas';
import { registerRoute, RouteDoc } from './common';

const DECIDING_ROLES = ['district_officer', 'city_admin'] as const;

/** Errors of every step that a care-home application workflow carries out as an update. */
const CASE_STEP_ERRORS: ErrorCode[] = ['FORBIDDEN', 'CASE_NOT_FOUND', 'CASE_STATE_CONFLICT', 'WORKFLOW_UNAVAILABLE'];

/** Errors of every step that an accident claim workflow carries out as an update. */
const CLAIM_STEP_ERRORS: ErrorCode[] = ['FORBIDDEN', 'CLAIM_NOT_FOUND', 'CLAIM_STATE_CONFLICT', 'WORKFLOW_UNAVAILABLE'];

/**
 * Care-home applications (公办养老机构入住) with the care homes and beds they
 * are placed in, accident insurance claims (意外保险理赔) and follow-up calls (回访).
 */
export function registerCasePaths(registry: OpenAPIRegistry): void {
  // The schemas of api/case-schemas.ts carry no component names, so they are named here.
  const bodies = {
    createCareHome: registry.register('CreateCareHome', createCareHomeBody),
    addBeds: registry.register('AddBeds', addBedsBody),
    apply: registry.register('ApplyForCareHome', applyBody),
    withdraw: registry.register('WithdrawCase', withdrawBody),
    assessment: registry.register('AssessCase', assessmentBody),
    decision: registry.register('CaseDecision', decisionBody),
    rejection: registry.register('RejectCase', rejectionBody),
    placement: registry.register('PlaceCase', placementBody),
    reportAccident: registry.register('ReportAccident', reportAccidentBody),
    closeClaim: registry.register('CloseClaim', closeClaimBody),
    followUpOutcome: registry.register('FollowUpOutcome', followUpOutcomeBody),
  };

  const caseStep = {
    method: 'post',
    params: idParams,
    idempotencyKey: 'optional',
    success: { 200: 'The application after the step, with its timeline' },
  } as const;
  const claimStep = {
    method: 'post',
    params: idParams,
    idempotencyKey: 'optional',
    roles: STAFF_ROLES,
    success: { 200: 'The claim after the step, with its timeline' },
  } as const;

  const careHomes: RouteDoc[] = [
    {
      method: 'get',
      path: '/v1/care-homes',
      summary: 'List public care homes (公办养老机构) and their beds',
      description: 'District staff see their district, and city administrators may filter by districtCode.',
      roles: ['street_reviewer', ...DECIDING_ROLES],
      query: listCareHomesQuery,
      success: { 200: 'A page of care homes with their beds: items, limit, offset' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'post',
      path: '/v1/care-homes',
      summary: 'Create a care home with its first beds',
      description:
        'City administrators must name the district. ' +
        '409 IDEMPOTENCY_CONFLICT means the district already has a home of that name.',
      roles: DECIDING_ROLES,
      body: bodies.createCareHome,
      success: { 201: 'The new care home with its beds' },
      errors: ['FORBIDDEN', 'IDEMPOTENCY_CONFLICT'],
    },
    {
      method: 'post',
      path: '/v1/care-homes/{id}/beds',
      summary: 'Add beds to a care home; applications waiting for a bed are woken',
      roles: DECIDING_ROLES,
      params: idParams,
      body: bodies.addBeds,
      success: { 201: 'The care home with its beds' },
      errors: ['FORBIDDEN', 'CARE_HOME_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/care-homes/{id}/beds/{bedId}/vacate',
      summary: 'Mark a bed free again, for example after a resident left',
      description: 'The route reads no request body. A bed held for an application awaiting admission cannot be vacated.',
      roles: DECIDING_ROLES,
      params: bedParams,
      success: { 200: 'The care home with its beds' },
      errors: ['FORBIDDEN', 'CARE_HOME_NOT_FOUND', 'BED_OCCUPIED'],
    },
  ];

  const cases: RouteDoc[] = [
    {
      method: 'post',
      path: '/v1/cases',
      summary: 'Apply for a place in a public care home (入住申请), paid with the applicant’s time coins',
      description:
        'The applicant must meet the admission conditions (age, served time, available coins, not on the dishonesty list) ' +
        'and have no other open application.',
      roles: ['volunteer', 'agent'],
      body: bodies.apply,
      idempotencyKey: 'required',
      onBehalfOf: true,
      success: {
        200: 'The application first filed with this Idempotency-Key, with its timeline',
        201: 'The new application, with its timeline',
      },
      errors: [
        'FORBIDDEN',
        'PERSON_NOT_FOUND',
        'CASE_NOT_ELIGIBLE',
        'CASE_ALREADY_OPEN',
        'IDEMPOTENCY_CONFLICT',
        'WORKFLOW_UNAVAILABLE',
      ],
    },
    {
      method: 'get',
      path: '/v1/cases',
      summary: 'List care-home applications in application order',
      description: 'Applicants see their own applications, district staff those of their district.',
      roles: 'any',
      query: listCasesQuery,
      onBehalfOf: true,
      success: { 200: 'A page of applications: items, total, limit, offset' },
      errors: [],
    },
    {
      method: 'get',
      path: '/v1/cases/{id}',
      summary: 'Read a care-home application with its timeline',
      roles: 'any',
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'The application with its timeline' },
      errors: ['CASE_NOT_FOUND'],
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/withdrawal',
      summary: 'Withdraw a care-home application',
      roles: ['volunteer', 'agent', ...DECIDING_ROLES],
      body: bodies.withdraw,
      onBehalfOf: true,
      errors: CASE_STEP_ERRORS,
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/assessment',
      summary: 'Record the applicant’s ability assessment (能力评估), level 0 to 4',
      roles: DECIDING_ROLES,
      body: bodies.assessment,
      errors: CASE_STEP_ERRORS,
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/approval',
      summary: 'Approve an assessed application',
      description:
        'CASE_NOT_ELIGIBLE means the assessed ability level and the age do not qualify. Reject the application instead.',
      roles: DECIDING_ROLES,
      body: bodies.decision,
      errors: [...CASE_STEP_ERRORS, 'CASE_NOT_ELIGIBLE'],
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/rejection',
      summary: 'Reject an application, giving the reason',
      roles: DECIDING_ROLES,
      body: bodies.rejection,
      errors: CASE_STEP_ERRORS,
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/placement',
      summary: 'Place an approved applicant in a free bed, in application order',
      description: 'Without careHomeId any care home of the district with a free bed is used.',
      roles: DECIDING_ROLES,
      body: bodies.placement,
      errors: [...CASE_STEP_ERRORS, 'CASE_NOT_FIRST_IN_QUEUE', 'CARE_HOME_NO_FREE_BED'],
    },
    {
      ...caseStep,
      path: '/v1/cases/{id}/admission',
      summary: 'Record the admission of a placed applicant; the care-home coins are spent',
      roles: DECIDING_ROLES,
      body: bodies.decision,
      errors: CASE_STEP_ERRORS,
    },
  ];

  const claims: RouteDoc[] = [
    {
      method: 'post',
      path: '/v1/claims',
      summary: 'Report an accident during service (意外报告) for an insurance claim',
      description: 'The order must be one the volunteer served, with sign-in and sign-out recorded. One report per order.',
      roles: ['volunteer', 'agent'],
      body: bodies.reportAccident,
      idempotencyKey: 'required',
      onBehalfOf: true,
      success: {
        200: 'The claim first reported with this Idempotency-Key, with its timeline',
        201: 'The new claim, with its timeline',
      },
      errors: [
        'FORBIDDEN',
        'ORDER_NOT_FOUND',
        'ORDER_NOT_SERVED',
        'CLAIM_ALREADY_REPORTED',
        'IDEMPOTENCY_CONFLICT',
        'WORKFLOW_UNAVAILABLE',
      ],
    },
    {
      method: 'get',
      path: '/v1/claims',
      summary: 'List accident claims, oldest report first',
      description: 'Volunteers see their own claims, district staff those of their district.',
      roles: ['volunteer', 'agent', ...STAFF_ROLES],
      query: listClaimsQuery,
      onBehalfOf: true,
      success: { 200: 'A page of claims: items, total, limit, offset' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'get',
      path: '/v1/claims/{id}',
      summary: 'Read an accident claim with its timeline',
      roles: ['volunteer', 'agent', ...STAFF_ROLES],
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'The claim with its timeline' },
      errors: ['CLAIM_NOT_FOUND'],
    },
    {
      ...claimStep,
      path: '/v1/claims/{id}/close',
      summary: 'Close a claim that is not finished, giving the reason',
      body: bodies.closeClaim,
      errors: CLAIM_STEP_ERRORS,
    },
    {
      ...claimStep,
      path: '/v1/claims/{id}/retry',
      summary: 'Retry the hand-over of a claim that needs staff',
      body: emptyBody,
      errors: CLAIM_STEP_ERRORS,
    },
  ];

  const followUpCalls: RouteDoc[] = [
    {
      method: 'get',
      path: '/v1/follow-up-calls',
      summary: 'List follow-up calls (回访), earliest due first',
      description: 'Agents see the calls of their institution, district staff those of their district.',
      roles: ['agent', ...STAFF_ROLES],
      query: listFollowUpCallsQuery,
      success: { 200: 'A page of follow-up calls: items, total, limit, offset' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'post',
      path: '/v1/follow-up-calls/{id}/outcome',
      summary: 'Record the outcome of a follow-up call',
      description: 'A call that did not reach the person (reached: false) stays open for another attempt.',
      roles: ['agent', ...STAFF_ROLES],
      params: idParams,
      body: bodies.followUpOutcome,
      success: { 200: 'The follow-up call' },
      errors: ['FORBIDDEN', 'FOLLOW_UP_CALL_NOT_FOUND', 'FOLLOW_UP_CALL_DONE'],
    },
  ];

  for (const route of careHomes) registerRoute(registry, 'Care homes', route);
  for (const route of cases) registerRoute(registry, 'Care-home applications', route);
  for (const route of claims) registerRoute(registry, 'Accident claims', route);
  for (const route of followUpCalls) registerRoute(registry, 'Follow-up calls', route);
}
