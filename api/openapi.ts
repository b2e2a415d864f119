import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import {
  acceptBody,
  accessLogQuery,
  agentBody,
  cancelBody,
  consentBody,
  institutionBody,
  revealBody,
  staffSessionBody,
  createOrderBody,
  emptyBody,
  grantBody,
  listOrdersQuery,
  rateBody,
  registerElderBody,
  registerVolunteerBody,
  resolveDisputeBody,
  reviewBody,
} from './schemas';

/** Builds the OpenAPI 3 description from the same zod schemas that validate requests. */
export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  const idParam = z.object({ id: z.uuid() });
  const idempotencyHeader = z.object({ 'Idempotency-Key': z.string().min(8).max(128) });
  const problem = {
    description: 'Problem details (application/problem+json) with a stable code and the failing field',
  };
  const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });

  const post = (path: string, summary: string, body?: z.ZodType, headers = false) =>
    registry.registerPath({
      method: 'post',
      path,
      summary,
      security: [{ bearer: [] }],
      request: {
        ...(path.includes('{id}') ? { params: idParam } : {}),
        ...(headers ? { headers: idempotencyHeader } : {}),
        ...(body ? { body: json(body) } : {}),
      },
      responses: {
        200: { description: 'The new state' },
        201: { description: 'Created' },
        400: problem,
        401: problem,
        403: problem,
        404: problem,
        409: problem,
        413: problem,
        415: problem,
        422: problem,
      },
    });
  const get = (path: string, summary: string, query?: z.ZodObject) =>
    registry.registerPath({
      method: 'get',
      path,
      summary,
      security: [{ bearer: [] }],
      request: { ...(path.includes('{id}') ? { params: idParam } : {}), ...(query ? { query } : {}) },
      responses: { 200: { description: 'OK' }, 400: problem, 401: problem, 403: problem, 404: problem },
    });

  post('/v1/elders', 'Register an elder (老年人)', registerElderBody);
  post('/v1/volunteers', 'Register a volunteer (志愿者)', registerVolunteerBody);
  get('/v1/persons/{id}', 'Read a person, with ID number and phone masked');
  post('/v1/orders', 'Request a service order (服务订单)', createOrderBody, true);
  get('/v1/orders', 'List orders visible to the caller', listOrdersQuery);
  get('/v1/orders/{id}', 'Read an order');
  post('/v1/orders/{id}/review', 'Approve or reject an order (审核)', reviewBody, true);
  post('/v1/orders/{id}/accept', 'Accept an order as a volunteer', acceptBody, true);
  post('/v1/orders/{id}/withdraw', 'Withdraw from an accepted order before sign-in', emptyBody, true);
  post('/v1/orders/{id}/sign-in', 'Sign in (签到)', emptyBody, true);
  post('/v1/orders/{id}/sign-out', 'Sign out (签出)', emptyBody, true);
  post('/v1/orders/{id}/rating', 'Rate the service, optionally disputing the time (评价)', rateBody, true);
  post('/v1/orders/{id}/dispute-resolution', 'Confirm or correct disputed service time', resolveDisputeBody, true);
  post('/v1/orders/{id}/cancel', 'Cancel an order', cancelBody, true);
  get('/v1/accounts/{id}', 'Balance of a person’s coin account: total, reserved, available');
  get('/v1/accounts/{id}/entries', 'Statement of a person’s coin account');
  post('/v1/grants', 'Grant free coins to an elder from the district grant account', grantBody, true);
  get('/v1/ops/orders/{id}/history', 'Temporal workflow history of an order (operators)');
  get('/v1/ops/access-log', 'Staff reads of personal data, newest first (operators)', accessLogQuery);
  post('/v1/persons/{id}/reveal', 'Show one full ID or phone number to district staff, with a logged reason', revealBody);
  post('/v1/persons/{id}/consents', 'Let an institution’s agents act for the person', consentBody);
  post('/v1/institutions', 'Confirm an institution (street office)', institutionBody);
  get('/v1/institutions/{id}', 'Read an institution');
  post('/v1/institutions/{id}/agents', 'Create a sign-in account for an agent of the institution', agentBody);
  post('/v1/staff/sessions', 'Staff sign-in with a password; returns a 15-minute token', staffSessionBody);
  get('/v1/districts', 'Beijing districts');
  get('/v1/service-categories', 'Service categories');

  return new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: { title: 'Time Bank API (养老服务时间银行)', version: '1.0.0' },
    servers: [{ url: '/' }],
  });
}
