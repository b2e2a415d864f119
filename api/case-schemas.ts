import { z } from 'zod';
import { CLAIM_STATUSES } from '../domain/accident-claim';
import { CARE_HOME_STATUSES } from '../domain/care-home';

/*
 * Request schemas of the care-home application, care-home, accident claim and
 * follow-up call endpoints. Objects are strict: unknown fields are rejected.
 */

const note = z.string().trim().min(1).max(500);
const page = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100000).default(0),
};
const districtCode = z.string().regex(/^[0-9]{6}$/);

export const applyBody = z.strictObject({});
export const withdrawBody = z.strictObject({ reason: note.optional() });
export const assessmentBody = z.strictObject({
  /** Ability level 0 (intact) to 4 (complete loss), GB/T 42195-2022 老年人能力评估规范. */
  abilityLevel: z.number().int().min(0).max(4),
  note: note.optional(),
});
export const decisionBody = z.strictObject({ note: note.optional() });
export const rejectionBody = z.strictObject({ reason: note });
export const placementBody = z.strictObject({ careHomeId: z.uuid().optional() });

export const listCasesQuery = z.strictObject({
  status: z.enum(CARE_HOME_STATUSES as [string, ...string[]]).optional(),
  districtCode: districtCode.optional(),
  ...page,
});

const bedLabel = z.string().trim().min(1).max(40);
export const createCareHomeBody = z.strictObject({
  name: z.string().trim().min(1).max(100),
  /** Required for city administrators; district officers create homes of their own district. */
  districtCode: districtCode.optional(),
  beds: z.array(bedLabel).max(500).default([]),
});
export const addBedsBody = z.strictObject({ labels: z.array(bedLabel).min(1).max(500) });
export const listCareHomesQuery = z.strictObject({ districtCode: districtCode.optional(), ...page });
export const bedParams = z.strictObject({ id: z.uuid(), bedId: z.uuid() });

export const reportAccidentBody = z.strictObject({
  orderId: z.uuid(),
  injuredAt: z.iso.datetime({ offset: true }),
  description: z.string().trim().min(1).max(2000),
});
export const closeClaimBody = z.strictObject({ reason: note });
export const listClaimsQuery = z.strictObject({
  status: z.enum(CLAIM_STATUSES as [string, ...string[]]).optional(),
  districtCode: districtCode.optional(),
  ...page,
});

export const listFollowUpCallsQuery = z.strictObject({
  status: z.enum(['open', 'done']).default('open'),
  due_before: z.iso.datetime({ offset: true }).optional(),
  districtCode: districtCode.optional(),
  ...page,
});
export const followUpOutcomeBody = z.strictObject({
  outcome: z.string().trim().min(1).max(1000),
  reached: z.boolean(),
});
