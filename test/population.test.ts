import { beijingDistricts, findBeijingStreet } from '../domain/reference-data';
import { ageOn, isMainlandMobile, parseResidentId, shanghaiCalendarDate } from '../domain/resident-id';
import { type Person, birthDateRange, generatePopulation } from '../scripts/demo/population';

// A leap day, so the birth-date bounds cross 29 February.
const TODAY = new Date('2024-02-29T10:00:00+08:00');
const DISTRICT_CODES = beijingDistricts().map((district) => district.code);

describe('generatePopulation', () => {
  const population = generatePopulation({ seed: 42, elders: 1000, volunteers: 600, today: TODAY });
  const everyone: Person[] = [...population.elders, ...population.volunteers];

  it('makes the requested number of people', () => {
    expect(population.elders).toHaveLength(1000);
    expect(population.volunteers).toHaveLength(600);
  });

  it('gives everyone a valid resident ID number', () => {
    for (const person of everyone) {
      expect(parseResidentId(person.residentId, TODAY)).toEqual({
        ok: true,
        value: {
          id: person.residentId,
          areaCode: person.districtCode,
          birthDate: person.birthDate,
          sex: expect.stringMatching(/^(male|female)$/),
        },
      });
    }
  });

  it('keeps resident ID numbers unique', () => {
    const ids = everyone.map((person) => person.residentId);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('places everyone on a street of their district', () => {
    for (const person of everyone) {
      expect(findBeijingStreet(person.streetCode)?.districtCode).toBe(person.districtCode);
    }
  });

  it('puts people in every district', () => {
    expect(new Set(population.elders.map((person) => person.districtCode))).toEqual(new Set(DISTRICT_CODES));
    expect(new Set(population.volunteers.map((person) => person.districtCode))).toEqual(new Set(DISTRICT_CODES));
  });

  it('makes elders aged 60 to 95', () => {
    const ages = population.elders.map((person) => ageOn(person.birthDate, TODAY));
    expect(Math.min(...ages)).toBe(60);
    expect(Math.max(...ages)).toBe(95);
  });

  it('makes volunteers aged 18 to 59', () => {
    const ages = population.volunteers.map((person) => ageOn(person.birthDate, TODAY));
    expect(Math.min(...ages)).toBe(18);
    expect(Math.max(...ages)).toBe(59);
  });

  it('gives unique 170 and 171 mobile numbers', () => {
    const phones = everyone.map((person) => person.phone);
    for (const phone of phones) {
      expect(isMainlandMobile(phone)).toBe(true);
      expect(phone).toMatch(/^17[01]\d{8}$/);
    }
    expect(new Set(phones).size).toBe(phones.length);
  });

  it('writes names in Chinese characters', () => {
    for (const person of everyone) {
      expect(person.name).toMatch(/^\p{Script=Han}{2,3}$/u);
    }
  });

  it('builds the address from district and street', () => {
    for (const person of everyone) {
      const street = findBeijingStreet(person.streetCode);
      expect(person.address).toMatch(/^\p{Script=Han}+某某路\d+号$/u);
      expect(person.address.startsWith(`${street?.districtName}${street?.name}某某路`)).toBe(true);
    }
  });

  it('appoints staff for each district and the city', () => {
    const byRole = (role: string) => population.staff.filter((member) => member.role === role);

    expect(byRole('street_reviewer').map((member) => member.districtCode)).toEqual(DISTRICT_CODES);
    expect(byRole('district_officer').map((member) => member.districtCode)).toEqual(DISTRICT_CODES);
    expect(byRole('city_admin').map((member) => member.districtCode)).toEqual([null]);
    expect(byRole('operator').map((member) => member.districtCode)).toEqual([null]);
    expect(population.staff).toHaveLength(34);
    for (const member of population.staff) {
      expect(member.name).toMatch(/^\p{Script=Han}{2,3}$/u);
    }
  });

  it('opens one institution per district', () => {
    expect(population.institutions.map((institution) => institution.districtCode)).toEqual(DISTRICT_CODES);
    for (const institution of population.institutions) {
      const street = findBeijingStreet(institution.streetCode);
      expect(street?.districtCode).toBe(institution.districtCode);
      expect(institution.name).toBe(`${street?.name}养老服务驿站`);
    }
  });
});

describe('birthDateRange', () => {
  const isoDate = (epochDay: number) => new Date(epochDay * 86_400_000).toISOString().slice(0, 10);

  it.each([
    ['a leap day', '2024-02-29T10:00:00+08:00'],
    ['1 March after a leap day', '2024-03-01T10:00:00+08:00'],
    ['28 February of a common year', '2025-02-28T10:00:00+08:00'],
    ['1 March of a common year', '2025-03-01T10:00:00+08:00'],
    ['New Year', '2026-01-01T00:00:00+08:00'],
    ['New Year\'s Eve', '2025-12-31T23:59:59+08:00'],
  ])('puts the bounds exactly at the ages on %s', (_case, instant) => {
    const on = new Date(instant);
    for (const ages of [
      { min: 60, max: 95 },
      { min: 18, max: 59 },
    ]) {
      const { earliestEpochDay, latestEpochDay } = birthDateRange(shanghaiCalendarDate(on), ages);
      expect(ageOn(isoDate(earliestEpochDay - 1), on)).toBe(ages.max + 1);
      expect(ageOn(isoDate(earliestEpochDay), on)).toBe(ages.max);
      expect(ageOn(isoDate(latestEpochDay), on)).toBe(ages.min);
      expect(ageOn(isoDate(latestEpochDay + 1), on)).toBe(ages.min - 1);
    }
  });
});

describe('generatePopulation determinism', () => {
  const options = { seed: 7, elders: 50, volunteers: 30, today: TODAY };

  it('repeats for the same seed', () => {
    expect(generatePopulation(options)).toEqual(generatePopulation(options));
  });

  it('differs for another seed', () => {
    const first = generatePopulation(options);
    const second = generatePopulation({ ...options, seed: 8 });
    expect(second.elders.map((person) => person.residentId)).not.toEqual(
      first.elders.map((person) => person.residentId),
    );
  });

  it('reduces the seed to 32 bits', () => {
    expect(generatePopulation({ ...options, seed: 2 ** 32 + 7 })).toEqual(generatePopulation(options));
  });
});

describe('generatePopulation options', () => {
  it('allows empty groups', () => {
    const population = generatePopulation({ seed: 1, elders: 0, volunteers: 0, today: TODAY });
    expect(population.elders).toEqual([]);
    expect(population.volunteers).toEqual([]);
    expect(population.staff).toHaveLength(34);
    expect(population.institutions).toHaveLength(16);
  });

  it.each([
    ['a fractional seed', { seed: 0.5 }],
    ['a negative count', { elders: -1 }],
    ['a fractional count', { volunteers: 1.5 }],
    ['an invalid date', { today: new Date('not a date') }],
    ['a date too early for 95-year-olds', { today: new Date('1990-01-01T00:00:00+08:00') }],
  ])('throws on %s', (_case, override) => {
    const options = { seed: 1, elders: 1, volunteers: 1, today: TODAY, ...override };
    expect(() => generatePopulation(options)).toThrow(RangeError);
  });
});
