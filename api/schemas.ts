import { extendZodWithOpenApi } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { SERVICE_CATEGORY_CODES } from '../domain/reference-data';

extendZodWithOpenApi(z);

/*
 * Request schemas of the HTTP API. The same schemas validate requests and
 * generate the OpenAPI description (api/openapi.ts). Objects are strict:
 * a field the client must not set (status, amounts, district...) is rejected.
 */

/*
 * Messages of the format checks below in both API languages. A message set on
 * a schema takes precedence over the zod locale, so the schemas carry the
 * English text and parseInput swaps in the Chinese one.
 */
const CHECK_MESSAGES = {
  residentId: { en: 'must be 18 characters: 17 digits and a digit or X', zh: '须为 18 位：17 位数字加 1 位数字或 X' },
  phone: { en: 'must be an 11-digit mainland mobile number', zh: '须为 11 位中国大陆手机号码' },
  streetCode: { en: 'must be a 9-digit street or township code', zh: '须为 9 位街道或乡镇编码' },
  districtCode: { en: 'must be a 6-digit district code', zh: '须为 6 位区县编码' },
  login: {
    en: 'must be 3 to 64 lowercase letters, digits, dots, underscores or hyphens',
    zh: '须为 3 到 64 位小写字母、数字、点、下划线或连字符',
  },
  keyMin: { en: 'must be at least 8 characters', zh: '长度不能少于 8 个字符' },
  keyMax: { en: 'must be at most 128 characters', zh: '长度不能超过 128 个字符' },
  keyCharacters: {
    en: 'may contain only letters, digits, dot, underscore, colon and hyphen',
    zh: '只能包含字母、数字、点、下划线、冒号和连字符',
  },
} as const;

/** Chinese text of each format-check message, keyed by its English text. */
export const CHECK_MESSAGES_ZH: ReadonlyMap<string, string> = new Map(
  Object.values(CHECK_MESSAGES).map((message) => [message.en, message.zh]),
);

const residentIdField = z
  .string()
  .regex(/^[0-9]{17}[0-9Xx]$/, CHECK_MESSAGES.residentId.en)
  .openapi({ example: '11010519491231002X' });
const phoneField = z
  .string()
  .regex(/^1[3-9][0-9]{9}$/, CHECK_MESSAGES.phone.en)
  .openapi({ example: '17012345678' });
const streetCodeField = z.string().regex(/^[0-9]{9}$/, CHECK_MESSAGES.streetCode.en);

/**
 * Fields the time bank must never collect (Beijing's volunteer credit rules
 * forbid religion, genetic data, fingerprints, blood type, illness and medical
 * history), under the names a client is likely to send them.
 */
export const FORBIDDEN_PERSONAL_FIELDS = [
  'religion',
  'religiousBelief',
  'faith',
  'medicalHistory',
  'healthHistory',
  'illness',
  'disease',
  'diagnosis',
  'bloodType',
  'fingerprint',
  'fingerprints',
  'geneticData',
  'dna',
  'genome',
] as const;

const personBase = {
  residentId: residentIdField,
  name: z.string().trim().min(1).max(50),
  phone: phoneField,
  streetCode: streetCodeField,
  address: z.string().trim().min(1).max(200),
};

export const registerElderBody = z.strictObject(personBase).openapi('RegisterElder');

export const registerVolunteerBody = z
  .strictObject({
    ...personBase,
    /** Date of the volunteer training record. */
    trainedOn: z.iso.date(),
    fitnessDeclared: z.literal(true),
    /** registry: insured through Volunteer Beijing; organisation: insurance confirmed by a volunteer organisation. */
    insurance: z.enum(['registry', 'organisation']).optional(),
    /** The organisation that confirmed the accident insurance; required with insurance organisation. */
    insuranceConfirmedBy: z.string().trim().min(1).max(100).optional(),
    insuranceConfirmedOn: z.iso.date().optional(),
    /** A registered adult volunteer; required for, and only for, a student under 18. */
    guardianId: z.uuid().optional(),
  })
  .openapi('RegisterVolunteer');

export const createOrderBody = z
  .strictObject({
    category: z.enum(SERVICE_CATEGORY_CODES),
    description: z.string().trim().min(1).max(1000),
    scheduledStart: z.iso.datetime({ offset: true }),
    bookedMinutes: z.number().int().positive(),
    /** Defaults to the elder's registered address. */
    address: z.string().trim().min(1).max(200).optional(),
    streetCode: streetCodeField.optional(),
  })
  .openapi('CreateOrder');

export const reviewBody = z
  .strictObject({
    decision: z.enum(['approve', 'reject']),
    note: z.string().trim().min(1).max(500).optional(),
  })
  .openapi('ReviewOrder');

export const emptyBody = z.strictObject({}).openapi('EmptyBody');

export const acceptBody = z
  .strictObject({
    /** A volunteer under 18 must set this: they serve together with their guardian. */
    withGuardian: z.boolean().optional(),
  })
  .openapi('AcceptOrder');

export const revealBody = z
  .strictObject({
    field: z.enum(['residentId', 'phone']),
    /** Why the full value is needed; stored in the access log. */
    reason: z.string().trim().min(2).max(500),
  })
  .openapi('RevealPersonalData');

export const consentBody = z.strictObject({ institutionId: z.uuid() }).openapi('AgentConsent');

export const consentParams = z.strictObject({ id: z.uuid(), institutionId: z.uuid() });

export const institutionBody = z
  .strictObject({
    name: z.string().trim().min(1).max(100),
    streetCode: streetCodeField,
  })
  .openapi('Institution');

const loginField = z
  .string()
  .regex(/^[a-z0-9._-]{3,64}$/, CHECK_MESSAGES.login.en);

export const agentBody = z
  .strictObject({
    name: z.string().trim().min(1).max(50),
    login: loginField,
    password: z.string().min(12).max(200),
  })
  .openapi('InstitutionAgent');

export const staffSessionBody = z
  .strictObject({
    staffId: z.uuid().optional(),
    login: z.string().min(1).max(64).optional(),
    password: z.string().min(1).max(200),
  })
  .openapi('StaffSignIn');

export const accessLogQuery = z.strictObject({
  personId: z.uuid().optional(),
  actorId: z.uuid().optional(),
  action: z.enum(['view', 'reveal']).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1000000).default(0),
});

export const districtParams = z.strictObject({ code: z.string().regex(/^[0-9]{6}$/, CHECK_MESSAGES.districtCode.en) });

export const rateBody = z
  .strictObject({
    rating: z.number().int().min(1).max(5),
    comment: z.string().trim().max(500).optional(),
    dispute: z.boolean().default(false),
    disputeNote: z.string().trim().min(1).max(500).optional(),
  })
  .openapi('RateOrder');

export const resolveDisputeBody = z
  .strictObject({
    servedMinutes: z.number().int().min(0),
    note: z.string().trim().min(1).max(500),
  })
  .openapi('ResolveDispute');

export const cancelBody = z
  .strictObject({ reason: z.string().trim().min(1).max(500).optional() })
  .openapi('CancelOrder');

export const grantBody = z
  .strictObject({
    elderId: z.uuid(),
    amountMinutes: z.number().int().positive(),
    reason: z.string().trim().min(1).max(500),
  })
  .openapi('Grant');

export const orderStatusEnum = z.enum([
  'pending_review',
  'open',
  'matched',
  'in_service',
  'awaiting_rating',
  'disputed',
  'settled',
  'rejected',
  'expired',
  'cancelled',
]);

export const listOrdersQuery = z.strictObject({
  status: orderStatusEnum.optional(),
  districtCode: z.string().regex(/^[0-9]{6}$/).optional(),
  elderId: z.uuid().optional(),
  volunteerId: z.uuid().optional(),
  /** `open` lists orders open for matching, nearest to the volunteer first. */
  view: z.enum(['mine', 'open']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(100000).default(0),
});

export const pageQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1000000).default(0),
});

export const idParams = z.strictObject({ id: z.uuid() });

export const idempotencyKeyHeader = z
  .string()
  .min(8, CHECK_MESSAGES.keyMin.en)
  .max(128, CHECK_MESSAGES.keyMax.en)
  .regex(/^[A-Za-z0-9._:-]+$/, CHECK_MESSAGES.keyCharacters.en);
