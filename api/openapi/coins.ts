import type { OpenAPIRegistry } from '@asteasolutions/zod-to-openapi';
import { STAFF_ROLES } from '../auth';
import { grantBody, idParams, pageQuery } from '../schemas';
import { donationBody, giftBody, reversalBody, welfareAllocationBody } from '../transfers';
import { LEDGER_ERRORS, registerRoute, RouteDoc } from './common';

const MOVEMENT_SUCCESS = {
  200: 'The movement first posted with this Idempotency-Key: transferId, kind, amount, replayed',
  201: 'The posted movement: transferId, kind, amount, replayed',
};

/** Time-coin (时间币) accounts and the movements outside orders: grants, gifts, donations, allocations and reversals. */
export function registerCoinPaths(registry: OpenAPIRegistry): void {
  const routes: RouteDoc[] = [
    {
      method: 'get',
      path: '/v1/accounts/{id}',
      summary: 'Read the balance of a person’s time-coin account (时间币账户): total, reserved and available',
      description: 'The person, an agent acting for them and staff of their district may read it.',
      roles: 'any',
      params: idParams,
      onBehalfOf: true,
      success: { 200: 'personId, balance, reserved and available' },
      errors: ['ACCOUNT_NOT_FOUND'],
    },
    {
      method: 'get',
      path: '/v1/accounts/{id}/entries',
      summary: 'List the entries of a person’s time-coin account, newest first',
      roles: 'any',
      params: idParams,
      query: pageQuery,
      onBehalfOf: true,
      success: { 200: 'A page of entries: items, limit, offset' },
      errors: ['ACCOUNT_NOT_FOUND'],
    },
    {
      method: 'post',
      path: '/v1/grants',
      summary: 'Grant free coins to an elder of the district from the district grant account (发放)',
      description: 'Grants to one elder are capped per calendar year in Asia/Shanghai.',
      roles: ['district_officer'],
      body: grantBody,
      idempotencyKey: 'required',
      success: {
        200: 'The grant first posted with this Idempotency-Key: transferId and amount',
        201: 'The posted grant: transferId and amount',
      },
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND', 'NOT_AN_ELDER', ...LEDGER_ERRORS],
    },
    {
      method: 'post',
      path: '/v1/gifts',
      summary: 'Give coins to a verified direct relative (赠与)',
      roles: ['elder', 'volunteer', 'agent'],
      body: giftBody,
      idempotencyKey: 'required',
      onBehalfOf: true,
      success: MOVEMENT_SUCCESS,
      errors: ['FORBIDDEN', 'RELATIVE_NOT_VERIFIED', ...LEDGER_ERRORS],
    },
    {
      method: 'post',
      path: '/v1/donations',
      summary: 'Donate coins to the city or a district public-welfare account (捐赠)',
      roles: ['elder', 'volunteer', 'agent'],
      body: donationBody,
      idempotencyKey: 'required',
      onBehalfOf: true,
      success: MOVEMENT_SUCCESS,
      errors: ['FORBIDDEN', ...LEDGER_ERRORS],
    },
    {
      method: 'post',
      path: '/v1/welfare-allocations',
      summary: 'Allocate coins from a public-welfare account to an elder',
      description: 'District officers allocate from their district’s account, city administrators from any account.',
      roles: ['district_officer', 'city_admin'],
      body: welfareAllocationBody,
      idempotencyKey: 'required',
      success: MOVEMENT_SUCCESS,
      errors: ['FORBIDDEN', 'PERSON_NOT_FOUND', 'NOT_AN_ELDER', ...LEDGER_ERRORS],
    },
    {
      method: 'post',
      path: '/v1/reversals',
      summary: 'Post a compensating reversal (冲正) of a transfer, for example one found to be fraudulent',
      description:
        'The reversals of one transfer add up to at most its amount. A reversal cannot itself be reversed ' +
        '(409 ORDER_STATE_CONFLICT).',
      roles: ['district_officer', 'city_admin'],
      body: reversalBody,
      idempotencyKey: 'required',
      success: MOVEMENT_SUCCESS,
      errors: ['FORBIDDEN', 'NOT_FOUND', 'ORDER_STATE_CONFLICT', ...LEDGER_ERRORS],
    },
  ];
  for (const route of routes) registerRoute(registry, 'Coins', route);
}
