import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { accessLogQuery, districtParams, emptyBody, idParams, pageQuery } from '../schemas';
import { registerRoute, RouteDoc } from './common';

const OPS_ROLES = ['operator', 'city_admin'] as const;

/** Service endpoints outside /v1, operator endpoints and reference data. */
export function registerOperationPaths(registry: OpenAPIRegistry): void {
  const service: RouteDoc[] = [
    {
      method: 'get',
      path: '/healthz',
      summary: 'Report that the API process is up',
      roles: 'public',
      success: { 200: '{"status": "ok"}' },
      errors: [],
    },
    {
      method: 'get',
      path: '/metrics',
      summary: 'Prometheus metrics of the API process, in the text exposition format',
      roles: 'public',
      success: { 200: 'Metrics as text/plain' },
      errors: [],
    },
    {
      method: 'get',
      path: '/openapi.json',
      summary: 'This OpenAPI description',
      roles: 'public',
      success: { 200: 'The OpenAPI 3.0 document' },
      errors: [],
    },
  ];

  const ops: RouteDoc[] = [
    {
      method: 'get',
      path: '/v1/ops/orders/{id}/history',
      summary: 'Read the Temporal workflow history of an order',
      description: 'The history carries only opaque ids, so operators can read it without seeing personal data.',
      roles: OPS_ROLES,
      params: idParams,
      success: { 200: 'Workflow id, run id, status, start and close time, and the events' },
      errors: ['FORBIDDEN', 'ORDER_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/ops/reconciliations',
      summary: 'Run a ledger reconciliation (对账) now and return its outcome',
      roles: OPS_ROLES,
      body: emptyBody,
      success: { 201: 'The finished run: ok, accountsChecked and problems' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'get',
      path: '/v1/ops/reconciliations',
      summary: 'List reconciliation runs, newest first',
      roles: OPS_ROLES,
      query: pageQuery,
      success: { 200: 'A page of runs: items, limit, offset' },
      errors: ['FORBIDDEN'],
    },
    {
      method: 'get',
      path: '/v1/ops/access-log',
      summary: 'List staff reads of personal data (访问日志), newest first',
      description: 'Entries hold ids, field names and the reasons staff gave, never the values that were shown.',
      roles: OPS_ROLES,
      query: accessLogQuery,
      success: { 200: 'A page of access log entries: items, total, limit, offset' },
      errors: ['FORBIDDEN'],
    },
  ];

  const reference: RouteDoc[] = [
    {
      method: 'get',
      path: '/v1/districts',
      summary: 'List the districts (区) with the number of streets in each',
      roles: 'any',
      success: { 200: 'items: code, name and streets' },
      errors: [],
    },
    {
      method: 'get',
      path: '/v1/districts/{code}/streets',
      summary: 'List the streets and townships (街道/乡镇) of a district',
      roles: 'any',
      params: districtParams,
      success: { 200: 'items: code and name' },
      errors: ['NOT_FOUND'],
    },
    {
      method: 'get',
      path: '/v1/service-categories',
      summary: 'List the service categories (服务类别) an order may name',
      roles: 'any',
      success: { 200: 'items: code, nameZh and nameEn' },
      errors: [],
    },
  ];

  for (const route of service) registerRoute(registry, 'Service', route);
  for (const route of ops) registerRoute(registry, 'Operations', route);
  for (const route of reference) registerRoute(registry, 'Reference data', route);
}
