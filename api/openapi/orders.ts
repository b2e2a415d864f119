import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import type { ErrorCode } from '../../domain/errors';
import { STAFF_ROLES } from '../auth';
import {
  acceptBody,
  cancelBody,
  createOrderBody,
  emptyBody,
  idParams,
  listOrdersQuery,
  rateBody,
  resolveDisputeBody,
  reviewBody,
} from '../schemas';
import { registerRoute, RouteDoc } from './common';

/** Errors of every step that the order workflow carries out as an update. */
const STEP_ERRORS: ErrorCode[] = ['FORBIDDEN', 'ORDER_NOT_FOUND', 'ORDER_STATE_CONFLICT', 'WORKFLOW_UNAVAILABLE'];

/** Fields shared by the order steps: the order id, an optional Idempotency-Key and the new order as the result. */
const step = {
  method: 'post',
  params: idParams,
  idempotencyKey: 'optional',
  success: { 200: 'The order after the step' },
} as const;

/** Service orders (服务订单) from request to settlement. */
export function registerOrderPaths(registry: OpenAPIRegistry): void {
  const routes: RouteDoc[] = [
    {
      method: 'post',
      path: '/v1/orders',
      summary: 'Request a service order (服务订单) for the elder',
      description:
        'The elder needs enough available coins for the booked minutes. A volunteer may request service for ' +
        'themselves once they or a verified spouse reach the redemption age.',
      roles: ['elder', 'volunteer', 'agent'],
      body: createOrderBody,
      idempotencyKey: 'required',
      onBehalfOf: true,
      success: { 200: 'The order first created with this Idempotency-Key', 201: 'The new order, pending review' },
      errors: [
        'FORBIDDEN',
        'REDEMPTION_NOT_ALLOWED',
        'PERSON_NOT_FOUND',
        'NOT_AN_ELDER',
        'SCHEDULE_OUT_OF_RANGE',
        'INSUFFICIENT_BALANCE',
        'IDEMPOTENCY_CONFLICT',
        'WORKFLOW_UNAVAILABLE',
      ],
    },
    {
      method: 'get',
      path: '/v1/orders',
      summary: 'List the orders the caller may see, newest first',
      description:
        'Elders and volunteers see their own orders, district staff those of their district. ' +
        'For a volunteer, view=open lists the orders open for matching, nearest to the volunteer first.',
      roles: ['elder', 'volunteer', 'agent', ...STAFF_ROLES],
      query: listOrdersQuery,
      onBehalfOf: true,
      success: { 200: 'A page of orders: items, total, limit, offset' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'get',
      path: '/v1/orders/{id}',
      summary: 'Read an order',
      roles: ['elder', 'volunteer', 'agent', ...STAFF_ROLES],
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'The order' },
      errors: ['FORBIDDEN', 'ORDER_NOT_FOUND'],
    },
    {
      ...step,
      path: '/v1/orders/{id}/review',
      summary: 'Approve or reject an order (审核); approval reserves the booked coins',
      description: 'A rejection needs a note.',
      roles: STAFF_ROLES,
      body: reviewBody,
      errors: [...STEP_ERRORS, 'INSUFFICIENT_BALANCE'],
    },
    {
      ...step,
      path: '/v1/orders/{id}/accept',
      summary: 'Accept an open order as the volunteer (接单)',
      description: 'A volunteer under 18 accepts together with their guardian (withGuardian: true).',
      roles: ['volunteer', 'agent'],
      body: acceptBody,
      onBehalfOf: true,
      errors: [
        ...STEP_ERRORS,
        'ORDER_ALREADY_MATCHED',
        'CANNOT_SERVE_SELF',
        'PERSON_NOT_FOUND',
        'NOT_A_VOLUNTEER',
        'VOLUNTEER_SUSPENDED',
        'INSURANCE_NOT_CONFIRMED',
        'GUARDIAN_REQUIRED',
        'GUARDIAN_INVALID',
        'GUARDIAN_BUSY',
        'VOLUNTEER_OVERLAP',
      ],
    },
    {
      ...step,
      path: '/v1/orders/{id}/withdraw',
      summary: 'Withdraw the volunteer from a matched order before sign-in',
      roles: ['volunteer', 'agent'],
      body: emptyBody,
      onBehalfOf: true,
      errors: STEP_ERRORS,
    },
    {
      ...step,
      path: '/v1/orders/{id}/sign-in',
      summary: 'Sign in at the start of service (签到)',
      description: 'Allowed only in the sign-in window around the scheduled start.',
      roles: ['volunteer', 'agent'],
      body: emptyBody,
      onBehalfOf: true,
      errors: [...STEP_ERRORS, 'SIGN_IN_WINDOW_CLOSED'],
    },
    {
      ...step,
      path: '/v1/orders/{id}/sign-out',
      summary: 'Sign out at the end of service (签出)',
      roles: ['volunteer', 'agent'],
      body: emptyBody,
      onBehalfOf: true,
      errors: STEP_ERRORS,
    },
    {
      ...step,
      path: '/v1/orders/{id}/rating',
      summary: 'Rate the service (评价), optionally disputing the served time',
      description:
        'Only the elder of the order, or an agent acting for them, rates. A rating without a dispute settles the order.',
      roles: ['elder', 'volunteer', 'agent'],
      body: rateBody,
      onBehalfOf: true,
      errors: STEP_ERRORS,
    },
    {
      ...step,
      path: '/v1/orders/{id}/dispute-resolution',
      summary: 'Confirm or correct the served time of a disputed order and settle it',
      description: 'servedMinutes may exceed the booked minutes by at most the configured allowance.',
      roles: STAFF_ROLES,
      body: resolveDisputeBody,
      errors: STEP_ERRORS,
    },
    {
      ...step,
      path: '/v1/orders/{id}/cancel',
      summary: 'Cancel an order',
      description:
        'The elder, or an agent acting for them, may cancel until the volunteer signs in; staff may cancel until settlement.',
      roles: ['elder', 'volunteer', 'agent', ...STAFF_ROLES],
      body: cancelBody,
      onBehalfOf: true,
      errors: STEP_ERRORS,
    },
  ];
  for (const route of routes) registerRoute(registry, 'Orders', route);
}
