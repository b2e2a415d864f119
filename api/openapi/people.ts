import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { STAFF_ROLES } from '../auth';
import { claimRelationshipBody, reviewRelationshipBody } from '../relatives';
import {
  agentBody,
  consentBody,
  consentParams,
  idParams,
  institutionBody,
  registerElderBody,
  registerVolunteerBody,
  revealBody,
  staffSessionBody,
} from '../schemas';
import { registerRoute, RouteDoc } from './common';

/** Staff sign-in, registration of elders and volunteers, personal data, consents, relatives and institutions. */
export function registerPeoplePaths(registry: OpenAPIRegistry): void {
  const routes: RouteDoc[] = [
    {
      method: 'post',
      path: '/v1/staff/sessions',
      summary: 'Sign in as staff with a password; returns a bearer token valid for 15 minutes',
      description: 'Give exactly one of login and staffId. Repeated failures per login and per client address are limited.',
      roles: 'public',
      body: staffSessionBody,
      success: { 201: 'Signed in: accessToken, tokenType, expiresIn (seconds), staffId, role, districtCode' },
      errors: ['SIGN_IN_FAILED', 'TOO_MANY_SIGN_IN_ATTEMPTS'],
    },
    {
      method: 'post',
      path: '/v1/elders',
      summary: 'Register an elder (老年人)',
      description:
        'Staff register people of their district, agents those of their institution’s district. ' +
        'A person already registered in another role gets the elder role added.',
      roles: ['agent', ...STAFF_ROLES],
      body: registerElderBody,
      success: { 201: 'The registered person, with ID number and phone masked' },
      errors: ['FORBIDDEN', 'RESIDENT_ID_INVALID', 'TOO_YOUNG', 'RESIDENT_ID_TAKEN'],
    },
    {
      method: 'post',
      path: '/v1/volunteers',
      summary: 'Register a volunteer (志愿者)',
      description: 'A student under 18 registers with a guardian who is an active adult volunteer.',
      roles: ['agent', ...STAFF_ROLES],
      body: registerVolunteerBody,
      success: { 201: 'The registered person, with ID number and phone masked' },
      errors: ['FORBIDDEN', 'RESIDENT_ID_INVALID', 'TOO_YOUNG', 'GUARDIAN_INVALID', 'RESIDENT_ID_TAKEN'],
    },
    {
      method: 'get',
      path: '/v1/persons/{id}',
      summary: 'Read a person, with ID number and phone masked',
      description:
        'The person, an agent acting for them, the guardian of a student volunteer and staff of their district may read it. ' +
        'Every staff read is written to the personal data access log.',
      roles: 'any',
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'The person' },
      errors: ['PERSON_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/persons/{id}/reveal',
      summary: 'Show one full ID or phone number to district staff, with the reason logged',
      roles: ['street_reviewer', 'district_officer'],
      params: idParams,
      body: revealBody,
      success: { 200: 'The field, its full value and the id of the access log entry' },
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/persons/{id}/consents',
      summary: 'Record the person’s consent (授权) to an institution’s agents acting for them',
      description: 'Staff may record consent for people of their district.',
      roles: ['elder', 'volunteer', ...STAFF_ROLES],
      params: idParams,
      body: consentBody,
      success: { 200: 'A consent was already in force; returns it', 201: 'The new consent' },
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND', 'INSTITUTION_NOT_FOUND'],
    },
    {
      method: 'delete',
      path: '/v1/persons/{id}/consents/{institutionId}',
      summary: 'Revoke the person’s consent to an institution',
      roles: ['elder', 'volunteer', ...STAFF_ROLES],
      params: consentParams,
      success: { 200: 'The revoked consent' },
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND', 'CONSENT_NOT_FOUND'],
    },
    {
      method: 'get',
      path: '/v1/persons/{id}/relationships',
      summary: 'List the person’s claimed and verified direct relatives (直系亲属)',
      description: 'The person, an agent acting for them and staff of their district may read the list.',
      roles: 'any',
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'Relationships in which the person is either side, oldest claim first' },
      errors: ['PERSON_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/persons/{id}/relationships',
      summary: 'Claim a direct relative; street staff verify the claim',
      description:
        'Only the person, or an agent acting for them, claims. ' +
        'Claiming the same relative and kind again returns the existing claim.',
      roles: ['elder', 'volunteer', 'agent'],
      params: idParams,
      body: claimRelationshipBody,
      onBehalfOf: true,
      success: { 201: 'The claimed relationship' },
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/relationships/{id}/review',
      summary: 'Verify or reject a claimed relationship',
      description: 'A rejection needs a note. 409 ORDER_STATE_CONFLICT means the claim was already reviewed.',
      roles: STAFF_ROLES,
      params: idParams,
      body: reviewRelationshipBody,
      success: { 200: 'The reviewed relationship' },
      errors: ['FORBIDDEN', 'NOT_FOUND', 'ORDER_STATE_CONFLICT'],
    },
    {
      method: 'post',
      path: '/v1/institutions',
      summary: 'Confirm an institution (专业机构) in the reviewer’s district',
      roles: ['street_reviewer'],
      body: institutionBody,
      success: { 201: 'The confirmed institution' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'get',
      path: '/v1/institutions/{id}',
      summary: 'Read an institution',
      description: 'Staff of its district and its own agents may read it.',
      roles: ['agent', ...STAFF_ROLES],
      params: idParams,
      success: { 200: 'The institution' },
      errors: ['INSTITUTION_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/institutions/{id}/agents',
      summary: 'Create a sign-in account for an agent (代办人) of the institution',
      roles: ['street_reviewer'],
      params: idParams,
      body: agentBody,
      success: { 201: 'The agent account: id, name, login and institutionId' },
      errors: ['FORBIDDEN', 'INSTITUTION_NOT_FOUND', 'LOGIN_TAKEN'],
    },
  ];
  for (const route of routes) registerRoute(registry, 'People', route);
}
