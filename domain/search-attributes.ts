import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Typed search attributes that let operators find orders in the Temporal UI
 * and CLI, for example `temporal workflow list --query "OrderStatus='settled'"`.
 * The server must have them registered (scripts/dev-services.ts does this for
 * the dev server, docker-compose.yml for the production-like stack).
 */
export const ORDER_STATUS = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const DISTRICT_CODE = defineSearchAttributeKey('DistrictCode', SearchAttributeType.KEYWORD);
export const ELDER_ID = defineSearchAttributeKey('ElderId', SearchAttributeType.KEYWORD);
export const VOLUNTEER_ID = defineSearchAttributeKey('VolunteerId', SearchAttributeType.KEYWORD);

export const SEARCH_ATTRIBUTE_NAMES = ['OrderStatus', 'DistrictCode', 'ElderId', 'VolunteerId', 'CaseKind'] as const;
/** Kind of a long-running case: care_home (入住申请) or accident_claim (意外理赔). */
export const CASE_KIND = defineSearchAttributeKey('CaseKind', SearchAttributeType.KEYWORD);
