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

export const FORBIDDEN_PERSONAL_FIELDS = [
  'religion',
  'medicalHistory',
  'illness',
  'bloodType',
  'fingerprint',
  'fingerprints',
  'geneticData',
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
    trainedOn: z.iso.date(),
    fitnessDeclared: z.literal(true),
    insurance: z.enum(['registry', 'organisation']).optional(),
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
