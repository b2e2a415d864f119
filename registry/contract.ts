/**
 * HTTP contract of Volunteer Beijing (志愿北京), the city's volunteer registry.
 * The client validates every response with these schemas and the simulator
 * validates every request with them, so the two cannot drift apart.
 *
 * Endpoints, all under /api/v1 and all authenticated with `Authorization: Bearer <API key>`:
 *
 * | method and path                              | success              | failures            |
 * |----------------------------------------------|----------------------|---------------------|
 * | GET  /volunteers/{volunteerRef}              | 200 VolunteerStatus  |                     |
 * | PUT  /service-records/{recordId}             | 201 new, 200 same    | 409                 |
 * | POST /service-records/{recordId}/backfill    | 201 new, 200 same    | 409                 |
 * | GET  /service-records/{recordId}             | 200 ServiceRecord    | 404                 |
 * | PUT  /claims/{claimId}                       | 201 new, 200 same    | 409, 422            |
 * | GET  /claims/{claimId}                       | 200 ClaimStatus      | 404                 |
 *
 * Every path may also return 400 (invalid input), 401 (missing or wrong API
 * key) and 503. Error bodies are application/problem+json (RFC 9457) with a
 * machine-readable `code`.
 */
import { z } from 'zod';

/** Base path of the registry API. */
export const REGISTRY_API_PREFIX = '/api/v1';

// A GB 11643-1999 resident ID number: 17 digits and a check character.
const RESIDENT_ID_PATTERN = /^\d{17}[\dXx]$/;

/**
 * Opaque key of a volunteer, supplied by the caller (a keyed hash or an
 * internal id). Values shaped like a resident ID number are rejected, because
 * raw ID numbers must never leave our system.
 */
export const volunteerRefSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{8,128}$/, {
    error: 'must be an opaque key of 8 to 128 letters, digits, "_" or "-"',
  })
  .refine((value) => !RESIDENT_ID_PATTERN.test(value), {
    error: 'looks like a resident ID number; send the opaque key instead',
  });

/** Identifier chosen by the caller for a service record (our order id) or a claim (our claim id). */
export const externalIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, {
  error: 'must be 1 to 128 letters, digits, ".", "_", ":" or "-", starting with a letter or digit',
});

/** An instant in ISO 8601 with an explicit offset, such as 2024-05-01T09:00:00+08:00. */
export const instantSchema = z.iso.datetime({
  offset: true,
  error: 'must be an ISO 8601 date-time with an offset, such as 2024-05-01T09:00:00+08:00',
});

/** Maximum time between startedAt and endedAt of one record, in minutes. */
export const MAX_SERVICE_SPAN_MINUTES = 24 * 60;

/**
 * Place of a service as administrative codes only. The registry never
 * receives a street address, so unknown keys such as `address` are rejected.
 */
export const servicePlaceSchema = z
  .strictObject({
    /** 6-digit GB/T 2260 district code, such as 110105. */
    districtCode: z.string().regex(/^\d{6}$/, { error: 'must be a 6-digit district code' }),
    /** 9-digit street, town or township code, such as 110105001. */
    streetCode: z.string().regex(/^\d{9}$/, { error: 'must be a 9-digit street code' }),
  })
  .superRefine((place, ctx) => {
    if (!place.streetCode.startsWith(place.districtCode)) {
      ctx.addIssue({
        code: 'custom',
        path: ['streetCode'],
        message: `must be a street of district ${place.districtCode} (its first 6 digits must match)`,
      });
    }
  });

/**
 * Body of a service record write, for both the plain push and the back-fill
 * (补录). `minutes` is the credited service time, which may be less than the
 * span between start and end but never more.
 */
export const serviceRecordInputSchema = z
  .strictObject({
    volunteerRef: volunteerRefSchema,
    /** Service item code, such as emotional_comfort. Districts may add local items. */
    serviceItem: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, {
      error: 'must be a service item code of lowercase letters, digits and "_", such as emotional_comfort',
    }),
    place: servicePlaceSchema,
    startedAt: instantSchema,
    endedAt: instantSchema,
    minutes: z
      .int({ error: (issue) => (issue.input === undefined ? 'is required' : 'must be a whole number of minutes') })
      .min(0)
      .max(MAX_SERVICE_SPAN_MINUTES),
  })
  .superRefine((record, ctx) => {
    const spanMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
    if (!(spanMs > 0)) {
      ctx.addIssue({ code: 'custom', path: ['endedAt'], message: 'must be later than startedAt' });
      return;
    }
    if (spanMs > MAX_SERVICE_SPAN_MINUTES * 60_000) {
      ctx.addIssue({
        code: 'custom',
        path: ['endedAt'],
        message: `must be at most ${MAX_SERVICE_SPAN_MINUTES} minutes after startedAt`,
      });
      return;
    }
    const spanMinutes = Math.floor(spanMs / 60_000);
    if (record.minutes > spanMinutes) {
      ctx.addIssue({
        code: 'custom',
        path: ['minutes'],
        message: `must not exceed the ${spanMinutes} whole minutes between startedAt and endedAt`,
      });
    }
  });

/** A service record as the registry stores it. Instants come back in UTC. */
export const serviceRecordSchema = z.object({
  recordId: externalIdSchema,
  volunteerRef: z.string(),
  serviceItem: z.string(),
  place: z.object({ districtCode: z.string(), streetCode: z.string() }),
  startedAt: instantSchema,
  endedAt: instantSchema,
  minutes: z.int().nonnegative(),
  /** True when the record arrived through the back-fill (补录) endpoint. */
  backfilled: z.boolean(),
  receivedAt: instantSchema,
});

/** Registration and insurance status of one volunteer. Unknown volunteers are reported as not registered. */
export const volunteerStatusSchema = z.object({
  registered: z.boolean(),
  approved: z.boolean(),
  insured: z.boolean(),
  /** Last day of accident insurance cover (YYYY-MM-DD, Asia/Shanghai), when the registry has one. */
  insuredUntil: z.iso.date().optional(),
});

export const CLAIM_STATUSES = ['submitted', 'reviewing', 'approved', 'rejected', 'closed'] as const;

export const claimStatusValueSchema = z.enum(CLAIM_STATUSES);

/** Body of an accident insurance claim submission. */
export const claimInputSchema = z.strictObject({
  volunteerRef: volunteerRefSchema,
  /** The service record the injury happened during, or on the way to or from. */
  recordId: externalIdSchema,
  injuredAt: instantSchema,
  description: z
    .string()
    .trim()
    .min(1, { error: 'must not be empty' })
    .max(2000, { error: 'must be at most 2000 characters' }),
});

/** Review progress of a claim. */
export const claimStatusSchema = z.object({
  status: claimStatusValueSchema,
  updatedAt: instantSchema,
});

/** Machine-readable `code` values of registry error responses. */
export const REGISTRY_ERROR_CODES = [
  'validation_failed',
  'malformed_json',
  'unsupported_media_type',
  'payload_too_large',
  'unauthorized',
  'route_not_found',
  'service_record_not_found',
  'claim_not_found',
  'record_conflict',
  'claim_conflict',
  'unknown_service_record',
  'volunteer_mismatch',
  'claim_closed',
  'unavailable',
  'internal',
] as const;

export type RegistryErrorCode = (typeof REGISTRY_ERROR_CODES)[number];

/** An application/problem+json error body. */
export const registryProblemSchema = z.object({
  type: z.string().optional(),
  title: z.string().optional(),
  status: z.int(),
  code: z.string(),
  detail: z.string().optional(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

export type VolunteerStatus = z.infer<typeof volunteerStatusSchema>;
export type ServicePlace = z.infer<typeof servicePlaceSchema>;
export type ServiceRecordInput = z.infer<typeof serviceRecordInputSchema>;
export type ServiceRecord = z.infer<typeof serviceRecordSchema>;
export type ClaimStatusValue = z.infer<typeof claimStatusValueSchema>;
export type ClaimInput = z.infer<typeof claimInputSchema>;
export type ClaimStatus = z.infer<typeof claimStatusSchema>;
export type RegistryProblem = z.infer<typeof registryProblemSchema>;

/** Path builders shared by client and simulator, so both encode ids the same way. */
export const registryPaths = {
  volunteer: (volunteerRef: string) => `${REGISTRY_API_PREFIX}/volunteers/${encodeURIComponent(volunteerRef)}`,
  serviceRecord: (recordId: string) => `${REGISTRY_API_PREFIX}/service-records/${encodeURIComponent(recordId)}`,
  serviceRecordBackfill: (recordId: string) =>
    `${REGISTRY_API_PREFIX}/service-records/${encodeURIComponent(recordId)}/backfill`,
  claim: (claimId: string) => `${REGISTRY_API_PREFIX}/claims/${encodeURIComponent(claimId)}`,
};
