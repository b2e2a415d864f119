import type { StaffRole } from '../../db/entities';
import { type District, beijingDistricts } from '../../domain/reference-data';
import { type CalendarDate, makeResidentId, shanghaiCalendarDate } from '../../domain/resident-id';

/*
 * A synthetic population for demos and tests, spread over Beijing's real
 * streets and townships. The same options always yield the same population.
 * Every person is made up: names come from short lists, resident ID numbers
 * are generated with valid check characters, and addresses use the
 * placeholder road name 某某路.
 */

export interface Person {
  residentId: string;
  name: string;
  /** An 11-digit mobile number in the 170 or 171 range. */
  phone: string;
  districtCode: string;
  streetCode: string;
  /** Such as 朝阳区建外街道某某路12号. */
  address: string;
  /** ISO date, YYYY-MM-DD. */
  birthDate: string;
}

export interface Staff {
  role: StaffRole;
  /** Null for city-wide roles (city_admin, operator). */
  districtCode: string | null;
  name: string;
}

export interface Institution {
  /** Such as 建外街道养老服务驿站. */
  name: string;
  districtCode: string;
  streetCode: string;
}

export interface Population {
  elders: Person[];
  volunteers: Person[];
  staff: Staff[];
  institutions: Institution[];
}

export interface PopulationOptions {
  /** Any integer, reduced modulo 2^32. */
  seed: number;
  elders: number;
  volunteers: number;
  /** Ages are computed on the Asia/Shanghai calendar date of this instant. */
  today: Date;
}

/** Inclusive age range, in full years on `today`. */
const ELDER_AGES = { min: 60, max: 95 };
const VOLUNTEER_AGES = { min: 18, max: 59 };

/** Resident ID numbers accept birth years from 1900 on. */
const EARLIEST_BIRTH_YEAR = 1900;

const MAX_DRAWS_PER_UNIQUE_VALUE = 1000;

const SURNAMES = [
  '王', '李', '张', '刘', '陈', '杨', '赵', '黄', '周', '吴',
  '徐', '孙', '胡', '朱', '高', '林', '何', '郭', '马', '罗',
];
const MALE_GIVEN_NAMES = [
  '伟', '强', '磊', '军', '勇', '杰', '涛', '明', '建国', '志强',
  '国华', '海涛', '文博', '子豪', '浩然', '宇轩', '建华', '德明', '振华', '俊杰',
];
const FEMALE_GIVEN_NAMES = [
  '芳', '娜', '敏', '静', '丽', '秀英', '桂英', '玉兰', '淑珍', '婷',
  '雪', '慧', '佳怡', '欣怡', '梓涵', '雨桐', '美玲', '晓燕', '红梅', '丽华',
];

/**
 * Generates a synthetic population. Person i of each group lives in district
 * i mod 16 (in code order), so every district has people once a group has 16
 * or more, and the street within the district is drawn at random. Resident ID
 * numbers are unique across elders and volunteers, and so are phone numbers.
 * Staff are one street reviewer and one district officer per district, one
 * city administrator and one operator. Institutions are one per district, at
 * a random street.
 *
 * NOTE: 170 and 171 are real virtual-operator ranges, so a generated number
 * may belong to someone. Never send messages or calls to these numbers.
 *
 * Throws RangeError on a non-integer seed, a negative or non-integer count,
 * an invalid `today`, or a `today` so early that the oldest elders would be
 * born before 1900.
 */
export function generatePopulation(options: PopulationOptions): Population {
  validateOptions(options);

  const random = new SeededRandom(options.seed);
  const today = shanghaiCalendarDate(options.today);
  const districts = beijingDistricts();
  const usedResidentIds = new Set<string>();
  const usedPhones = new Set<string>();

  const makePeople = (count: number, ages: { min: number; max: number }): Person[] => {
    const people: Person[] = [];
    for (let i = 0; i < count; i++) {
      const district = districts[i % districts.length];
      people.push(makePerson(random, district, today, ages, usedResidentIds, usedPhones));
    }
    return people;
  };
  const elders = makePeople(options.elders, ELDER_AGES);
  const volunteers = makePeople(options.volunteers, VOLUNTEER_AGES);

  const staff: Staff[] = [];
  for (const district of districts) {
    staff.push({ role: 'street_reviewer', districtCode: district.code, name: randomName(random) });
    staff.push({ role: 'district_officer', districtCode: district.code, name: randomName(random) });
  }
  staff.push({ role: 'city_admin', districtCode: null, name: randomName(random) });
  staff.push({ role: 'operator', districtCode: null, name: randomName(random) });

  const institutions: Institution[] = districts.map((district) => {
    const street = random.pick(district.streets);
    return { name: `${street.name}养老服务驿站`, districtCode: district.code, streetCode: street.code };
  });

  return { elders, volunteers, staff, institutions };
}

function validateOptions(options: PopulationOptions): void {
  if (!Number.isInteger(options.seed)) {
    throw new RangeError(`seed must be an integer, got ${options.seed}`);
  }
  for (const field of ['elders', 'volunteers'] as const) {
    const count = options[field];
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`${field} must be a non-negative integer, got ${count}`);
    }
  }
  if (Number.isNaN(options.today.getTime())) {
    throw new RangeError('today must be a valid Date, got an invalid one');
  }

  const oldestBirthYear = shanghaiCalendarDate(options.today).year - ELDER_AGES.max - 1;
  if (oldestBirthYear < EARLIEST_BIRTH_YEAR) {
    throw new RangeError(
      `today (${options.today.toISOString()}) is too early: elders aged up to ${ELDER_AGES.max} ` +
        `would be born before ${EARLIEST_BIRTH_YEAR}`,
    );
  }
}

function makePerson(
  random: SeededRandom,
  district: District,
  today: CalendarDate,
  ages: { min: number; max: number },
  usedResidentIds: Set<string>,
  usedPhones: Set<string>,
): Person {
  const street = random.pick(district.streets);
  const birthDate = randomBirthDate(random, today, ages);
  const male = random.next() < 0.5;

  // The sequence number's parity encodes sex: odd for men, even for women.
  const residentId = drawUnique(usedResidentIds, 'resident ID number', () => {
    const sequence = 2 * random.int(0, 499) + (male ? 1 : 0);
    return makeResidentId(district.code, birthDate, sequence);
  });
  const phone = drawUnique(usedPhones, 'phone number', () => {
    return `17${random.int(0, 1)}${String(random.int(0, 99_999_999)).padStart(8, '0')}`;
  });

  return {
    residentId,
    name: randomName(random, male),
    phone,
    districtCode: district.code,
    streetCode: street.code,
    address: `${district.name}${street.name}某某路${random.int(1, 199)}号`,
    birthDate,
  };
}

/** Draws values until one is not in `used`, then records it there. */
function drawUnique(used: Set<string>, what: string, draw: () => string): string {
  for (let attempt = 0; attempt < MAX_DRAWS_PER_UNIQUE_VALUE; attempt++) {
    const value = draw();
    if (!used.has(value)) {
      used.add(value);
      return value;
    }
  }
  throw new Error(`no unused ${what} after ${MAX_DRAWS_PER_UNIQUE_VALUE} draws; lower the population size`);
}

/** Draws a birth date, uniform over days, for someone whose age on `today` is within `ages`. */
function randomBirthDate(random: SeededRandom, today: CalendarDate, ages: { min: number; max: number }): string {
  const range = birthDateRange(today, ages);
  return isoDateOfEpochDay(random.int(range.earliestEpochDay, range.latestEpochDay));
}

/**
 * Computes the first and last birth dates, as days since 1970-01-01, of
 * people whose age on `today` is within `ages` (inclusive). The bounds come
 * from shifting `today` back by whole years, with 29 February moved to
 * 28 February in a common year.
 */
export function birthDateRange(
  today: CalendarDate,
  ages: { min: number; max: number },
): { earliestEpochDay: number; latestEpochDay: number } {
  const latestEpochDay = epochDay(yearsBefore(today, ages.min));
  // Born on this day, the person is already max + 1, so the range starts a day later.
  const earliestEpochDay = epochDay(yearsBefore(today, ages.max + 1)) + 1;
  return { earliestEpochDay, latestEpochDay };
}

function yearsBefore(date: CalendarDate, years: number): CalendarDate {
  const year = date.year - years;
  const lastDayOfMonth = new Date(Date.UTC(year, date.month, 0)).getUTCDate();
  return { year, month: date.month, day: Math.min(date.day, lastDayOfMonth) };
}

const MS_PER_DAY = 86_400_000;

function epochDay(date: CalendarDate): number {
  return Date.UTC(date.year, date.month - 1, date.day) / MS_PER_DAY;
}

function isoDateOfEpochDay(day: number): string {
  return new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
}

function randomName(random: SeededRandom, male: boolean = random.next() < 0.5): string {
  return random.pick(SURNAMES) + random.pick(male ? MALE_GIVEN_NAMES : FEMALE_GIVEN_NAMES);
}

/** A small seeded PRNG (mulberry32): 32 bits of state, fast, not cryptographic. */
class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Returns a float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  }

  /** Returns an integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)];
  }
}
