/**
 * Resident ID numbers (公民身份号码, GB 11643-1999) and mainland mobile numbers:
 * validation, derived facts (birth date, sex, age) and the masks used in every
 * response and log.
 *
 * An 18-character resident ID number has four parts. The 6-digit area code is
 * the GB/T 2260 code of the county-level division of household registration.
 * Then come the birth date YYYYMMDD, a 3-digit sequence number (odd for men,
 * even for women) and a check character computed with ISO 7064 MOD 11-2.
 */

export interface ResidentId {
  /** The number with a lowercase check character normalised to 'X'. */
  id: string;
  areaCode: string;
  /** ISO date, YYYY-MM-DD. */
  birthDate: string;
  sex: 'male' | 'female';
}

export type ResidentIdError = 'format' | 'check_digit' | 'birth_date';

export type ResidentIdResult = { ok: true; value: ResidentId } | { ok: false; reason: ResidentIdError };

/** Weight of digit i is 2^(17 - i) mod 11, as ISO 7064 MOD 11-2 defines. */
const CHECK_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** Check characters by remainder: index r is the character for a weighted sum of r mod 11. */
const CHECK_CHARACTERS = '10X98765432';

const EARLIEST_BIRTH_YEAR = 1900;

const ISO_DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * Computes the ISO 7064 MOD 11-2 check character ('0'-'9' or 'X') for the
 * first 17 digits of a resident ID number. Throws RangeError unless the
 * input is exactly 17 ASCII digits.
 */
export function checkDigit(first17: string): string {
  if (!/^\d{17}$/.test(first17)) {
    throw new RangeError(`checkDigit expects exactly 17 digits, got ${JSON.stringify(first17)}`);
  }

  let sum = 0;
  for (let i = 0; i < 17; i++) {
    sum += Number(first17[i]) * CHECK_WEIGHTS[i];
  }
  return CHECK_CHARACTERS[sum % 11];
}

/**
 * Parses and validates an 18-character resident ID number.
 *
 * The checks run in this order, and the first failure is the reason returned.
 * Format: 17 digits, then a digit or 'X'. Check character: ISO 7064 MOD 11-2.
 * Birth date: a real calendar date, year 1900 or later, not after the
 * Asia/Shanghai calendar date of `today`. A lowercase 'x' is accepted and
 * normalised to 'X'. Surrounding whitespace is a format error, so callers
 * trim input themselves.
 *
 * The area code is not checked against the current division list, because
 * numbers issued under since-abolished codes (such as Beijing's 110103
 * 崇文区) stay valid for life.
 */
export function parseResidentId(id: string, today: Date = new Date()): ResidentIdResult {
  const normalised = id.length === 18 && id[17] === 'x' ? `${id.slice(0, 17)}X` : id;
  if (!/^\d{17}[\dX]$/.test(normalised)) {
    return { ok: false, reason: 'format' };
  }

  if (checkDigit(normalised.slice(0, 17)) !== normalised[17]) {
    return { ok: false, reason: 'check_digit' };
  }

  const birthDate = `${normalised.slice(6, 10)}-${normalised.slice(10, 12)}-${normalised.slice(12, 14)}`;
  if (!isValidBirthDate(birthDate, today)) {
    return { ok: false, reason: 'birth_date' };
  }

  const sequence = Number(normalised.slice(14, 17));
  return {
    ok: true,
    value: {
      id: normalised,
      areaCode: normalised.slice(0, 6),
      birthDate,
      sex: sequence % 2 === 1 ? 'male' : 'female',
    },
  };
}

/**
 * Builds a resident ID number with a valid check character, for synthetic
 * data. `birthDate` is YYYY-MM-DD and `sequence` is 0 to 999 (odd for a man,
 * even for a woman). Throws RangeError on an invalid area code, date or
 * sequence. It does not compare the date with today, so a future birth date
 * yields a number that parseResidentId rejects.
 */
export function makeResidentId(areaCode: string, birthDate: string, sequence: number): string {
  if (!/^\d{6}$/.test(areaCode)) {
    throw new RangeError(`makeResidentId expects a 6-digit area code, got ${JSON.stringify(areaCode)}`);
  }
  const date = parseIsoDate(birthDate);
  if (date === null || date.year < EARLIEST_BIRTH_YEAR) {
    throw new RangeError(
      `makeResidentId expects a calendar date YYYY-MM-DD from ${EARLIEST_BIRTH_YEAR} on, got ${JSON.stringify(birthDate)}`,
    );
  }
  if (!Number.isInteger(sequence) || sequence < 0 || sequence > 999) {
    throw new RangeError(`makeResidentId expects a sequence number from 0 to 999, got ${sequence}`);
  }

  const first17 = `${areaCode}${birthDate.replace(/-/g, '')}${String(sequence).padStart(3, '0')}`;
  return first17 + checkDigit(first17);
}

/**
 * Returns the age in full years on the Asia/Shanghai calendar date of `on`.
 * The age goes up on the birthday itself. Someone born on 29 February turns
 * a year older on 1 March in a common year. Throws RangeError if `birthDate`
 * is not a calendar date YYYY-MM-DD.
 */
export function ageOn(birthDate: string, on: Date): number {
  const birth = parseIsoDate(birthDate);
  if (birth === null) {
    throw new RangeError(`ageOn expects a calendar date YYYY-MM-DD, got ${JSON.stringify(birthDate)}`);
  }

  const today = shanghaiCalendarDate(on);
  const birthdayReached =
    today.month > birth.month || (today.month === birth.month && today.day >= birth.day);
  return today.year - birth.year - (birthdayReached ? 0 : 1);
}

/**
 * Masks a resident ID number for display: the first 3 and the last 4
 * characters stay, as in 110***********1234. Input that is not 18 characters
 * long is masked completely, so a malformed value never leaks.
 */
export function maskResidentId(id: string): string {
  if (id.length !== 18) {
    return '*'.repeat(id.length);
  }
  return `${id.slice(0, 3)}${'*'.repeat(11)}${id.slice(14).toUpperCase()}`;
}

/**
 * Tests for an 11-digit mainland mobile number (1, then 3-9, then 9 digits).
 * A country code, spaces or dashes make it fail, so callers strip them first.
 */
export function isMainlandMobile(phone: string): boolean {
  return /^1[3-9]\d{9}$/.test(phone);
}

/**
 * Masks a phone number for display: the first 3 and the last 4 digits stay,
 * as in 138****5678. Input that is not 11 characters long is masked completely.
 */
export function maskPhone(phone: string): string {
  if (phone.length !== 11) {
    return '*'.repeat(phone.length);
  }
  return `${phone.slice(0, 3)}****${phone.slice(7)}`;
}

/** A date on the calendar, without time or zone. Month and day count from 1. */
export interface CalendarDate {
  year: number;
  month: number;
  day: number;
}

/** Parses YYYY-MM-DD into its parts, or returns null if it is not a real calendar date. */
export function parseIsoDate(text: string): CalendarDate | null {
  const match = ISO_DATE_PATTERN.exec(text);
  if (match === null) {
    return null;
  }

  const year = Number(match[1]);
  const month = Number(match[2]);
  const day = Number(match[3]);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) {
    return null;
  }
  return { year, month, day };
}

function daysInMonth(year: number, month: number): number {
  // Day 0 of the next month is the last day of this one.
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function isValidBirthDate(birthDate: string, today: Date): boolean {
  const birth = parseIsoDate(birthDate);
  if (birth === null || birth.year < EARLIEST_BIRTH_YEAR) {
    return false;
  }
  return compareDates(birth, shanghaiCalendarDate(today)) <= 0;
}

function compareDates(a: CalendarDate, b: CalendarDate): number {
  return a.year - b.year || a.month - b.month || a.day - b.day;
}

let shanghaiDateFormat: Intl.DateTimeFormat | undefined;

/** Returns the calendar date in Asia/Shanghai at the instant `instant`. */
export function shanghaiCalendarDate(instant: Date): CalendarDate {
  if (Number.isNaN(instant.getTime())) {
    throw new RangeError('shanghaiCalendarDate expects a valid Date, got an invalid one');
  }

  // The IANA zone, not a fixed +08:00, so instants from the years China
  // observed daylight saving time (last in 1991) also land on the right date.
  shanghaiDateFormat ??= new Intl.DateTimeFormat('en-US', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
  });
  const parts = shanghaiDateFormat.formatToParts(instant);
  const part = (type: 'year' | 'month' | 'day'): number =>
    Number(parts.find((p) => p.type === type)?.value);
  return { year: part('year'), month: part('month'), day: part('day') };
}

/** A resident ID number standing alone: 17 digits and a check character, not inside a longer run. */
const RESIDENT_ID_IN_TEXT = /(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])/g;

/** A mainland mobile number standing alone, not inside a longer run of digits. */
const MOBILE_IN_TEXT = /(?<!\d)1[3-9]\d{9}(?!\d)/g;

/**
 * Masks every resident ID number and mainland mobile number in free text,
 * such as a log line or an error message, with the display masks above.
 * Any other 18-character or 11-digit number that matches the pattern is
 * masked too, which errs on the safe side.
 */
export function maskPersonalNumbersInText(text: string): string {
  return text.replace(RESIDENT_ID_IN_TEXT, (id) => maskResidentId(id)).replace(MOBILE_IN_TEXT, (phone) => maskPhone(phone));
}
