import fc from 'fast-check';
import {
  ageOn,
  checkDigit,
  isMainlandMobile,
  makeResidentId,
  maskPhone,
  maskResidentId,
  parseResidentId,
  shanghaiCalendarDate,
} from '../domain/resident-id';

/** A fixed "now" so date checks do not depend on when the suite runs: 2024-06-01 12:00 in Beijing. */
const NOW = new Date('2024-06-01T04:00:00Z');

/** Appends the check character to 17 digits, for building test numbers. */
function withCheck(first17: string): string {
  return first17 + checkDigit(first17);
}

describe('checkDigit', () => {
  it('matches the national standard examples', () => {
    // GB 11643-1999 gives 11010519491231002X (Beijing, Chaoyang) and 440524188001010014 (Shantou).
    expect(checkDigit('11010519491231002')).toBe('X');
    expect(checkDigit('44052418800101001')).toBe('4');
  });

  it('satisfies the MOD 11-2 sum for any digits', () => {
    // ISO 7064 MOD 11-2 holds when the sum of a_i * 2^(17 - i) over all 18
    // characters, with X = 10, is 1 mod 11. This restates the rule without the
    // weight table the implementation uses.
    fc.assert(
      fc.property(fc.stringMatching(/^\d{17}$/), (first17) => {
        const full = first17 + checkDigit(first17);
        let sum = 0;
        for (let i = 0; i < 18; i++) {
          const value = full[i] === 'X' ? 10 : Number(full[i]);
          sum += value * (2 ** (17 - i) % 11);
        }
        expect(sum % 11).toBe(1);
      }),
    );
  });

  it('throws on input that is not 17 digits', () => {
    expect(() => checkDigit('1101051949123100')).toThrow(RangeError);
    expect(() => checkDigit('110105194912310021')).toThrow(RangeError);
    expect(() => checkDigit('1101051949123100A')).toThrow(RangeError);
    expect(() => checkDigit('')).toThrow(RangeError);
  });
});

describe('parseResidentId', () => {
  it('accepts the national standard example', () => {
    expect(parseResidentId('11010519491231002X', NOW)).toEqual({
      ok: true,
      value: { id: '11010519491231002X', areaCode: '110105', birthDate: '1949-12-31', sex: 'female' },
    });
  });

  it('derives sex from sequence parity', () => {
    const odd = parseResidentId(withCheck('11010119800101001'), NOW);
    const even = parseResidentId(withCheck('11010119800101998'), NOW);
    expect(odd).toEqual({ ok: true, value: expect.objectContaining({ sex: 'male' }) });
    expect(even).toEqual({ ok: true, value: expect.objectContaining({ sex: 'female' }) });
  });

  it('accepts a lowercase x and normalises it', () => {
    const result = parseResidentId('11010519491231002x', NOW);
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ id: '11010519491231002X' }) });
  });

  it('rejects a wrong check character', () => {
    expect(parseResidentId('110105194912310020', NOW)).toEqual({ ok: false, reason: 'check_digit' });
    expect(parseResidentId('110105194912310021', NOW)).toEqual({ ok: false, reason: 'check_digit' });
    // Two adjacent digits swapped: the weighted sum catches transpositions.
    expect(parseResidentId('11010519491213002X', NOW)).toEqual({ ok: false, reason: 'check_digit' });
  });

  it.each([
    ['17 characters', '11010519491231002'],
    ['19 characters', '11010519491231002X0'],
    ['X before the end', '1101051949123100X2'],
    ['a letter other than X', '11010519491231002Y'],
    ['full-width digits', '１１０１０５１９４９１２３１００２X'],
    ['surrounding spaces', ' 11010519491231002X '],
    ['a legacy 15-digit number', '110105491231002'],
    ['an empty string', ''],
  ])('rejects the format of %s', (_case, id) => {
    expect(parseResidentId(id, NOW)).toEqual({ ok: false, reason: 'format' });
  });

  it.each([
    ['30 February', '19490230'],
    ['29 February in 1900', '19000229'],
    ['month 13', '19491301'],
    ['month 00', '19490001'],
    ['day 00', '19491200'],
    ['31 April', '19490431'],
    ['a year before 1900', '18991231'],
  ])('rejects a birth date of %s', (_case, yyyymmdd) => {
    const id = withCheck(`110105${yyyymmdd}002`);
    expect(parseResidentId(id, NOW)).toEqual({ ok: false, reason: 'birth_date' });
  });

  it('accepts 29 February in a leap year', () => {
    const result = parseResidentId(withCheck('11010520000229002'), NOW);
    expect(result).toEqual({ ok: true, value: expect.objectContaining({ birthDate: '2000-02-29' }) });
  });

  it('accepts 1 January 1900', () => {
    expect(parseResidentId(withCheck('11010519000101002'), NOW).ok).toBe(true);
  });

  it('rejects a future birth date', () => {
    expect(parseResidentId(withCheck('11010520240602002'), NOW)).toEqual({ ok: false, reason: 'birth_date' });
    expect(parseResidentId(withCheck('11010520300101002'), NOW)).toEqual({ ok: false, reason: 'birth_date' });
  });

  it('uses the Beijing date for today', () => {
    const id = withCheck('11010520240602002');
    // 2024-06-01T15:59:59Z is 23:59:59 on 1 June in Beijing, 16:00Z is midnight of 2 June.
    expect(parseResidentId(id, new Date('2024-06-01T15:59:59Z'))).toEqual({ ok: false, reason: 'birth_date' });
    expect(parseResidentId(id, new Date('2024-06-01T16:00:00Z')).ok).toBe(true);
  });

  it('checks the check character before the birth date', () => {
    // A bad date with a wrong check character reports the check character.
    const good = withCheck('11010519490230002');
    const wrongCheck = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
    expect(parseResidentId(wrongCheck, NOW)).toEqual({ ok: false, reason: 'check_digit' });
  });

  it('rejects the 1880 standard example as too early', () => {
    expect(parseResidentId('440524188001010014', NOW)).toEqual({ ok: false, reason: 'birth_date' });
  });
});

describe('makeResidentId', () => {
  it('builds the standard example', () => {
    expect(makeResidentId('110105', '1949-12-31', 2)).toBe('11010519491231002X');
  });

  it('pads the sequence to 3 digits', () => {
    expect(makeResidentId('110101', '1980-01-01', 7).slice(14, 17)).toBe('007');
    expect(makeResidentId('110101', '1980-01-01', 0).slice(14, 17)).toBe('000');
    expect(makeResidentId('110101', '1980-01-01', 999).slice(14, 17)).toBe('999');
  });

  it.each([
    ['a 5-digit area code', '11010', '1980-01-01', 1],
    ['a non-digit area code', '11010A', '1980-01-01', 1],
    ['a compact date', '110101', '19800101', 1],
    ['30 February', '110101', '1980-02-30', 1],
    ['a year before 1900', '110101', '1899-12-31', 1],
    ['a sequence of 1000', '110101', '1980-01-01', 1000],
    ['a negative sequence', '110101', '1980-01-01', -1],
    ['a fractional sequence', '110101', '1980-01-01', 1.5],
  ])('throws on %s', (_case, areaCode, birthDate, sequence) => {
    expect(() => makeResidentId(areaCode, birthDate, sequence)).toThrow(RangeError);
  });

  it('yields numbers parseResidentId accepts', () => {
    const firstDay = Date.UTC(1900, 0, 1) / 86_400_000;
    const lastDay = Date.UTC(2024, 5, 1) / 86_400_000;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 999_999 }),
        fc.integer({ min: firstDay, max: lastDay }),
        fc.integer({ min: 0, max: 999 }),
        (areaNumber, day, sequence) => {
          const areaCode = String(areaNumber).padStart(6, '0');
          const birthDate = new Date(day * 86_400_000).toISOString().slice(0, 10);
          const result = parseResidentId(makeResidentId(areaCode, birthDate, sequence), NOW);
          expect(result).toEqual({
            ok: true,
            value: expect.objectContaining({
              areaCode,
              birthDate,
              sex: sequence % 2 === 1 ? 'male' : 'female',
            }),
          });
        },
      ),
    );
  });
});

describe('ageOn', () => {
  it('goes up on the birthday, not the day before', () => {
    expect(ageOn('1964-06-01', new Date('2024-05-31T12:00:00+08:00'))).toBe(59);
    expect(ageOn('1964-06-01', new Date('2024-06-01T00:00:00+08:00'))).toBe(60);
    expect(ageOn('1964-06-01', new Date('2024-06-02T12:00:00+08:00'))).toBe(60);
  });

  it('uses the Beijing calendar date', () => {
    // 15:59:59Z is still 14 March in Beijing, 16:00Z is 15 March there.
    expect(ageOn('1964-03-15', new Date('2024-03-14T15:59:59Z'))).toBe(59);
    expect(ageOn('1964-03-15', new Date('2024-03-14T16:00:00Z'))).toBe(60);
  });

  it('counts 29 February birthdays from 1 March in common years', () => {
    expect(ageOn('1964-02-29', new Date('2023-02-28T12:00:00+08:00'))).toBe(58);
    expect(ageOn('1964-02-29', new Date('2023-03-01T12:00:00+08:00'))).toBe(59);
    expect(ageOn('1964-02-29', new Date('2024-02-29T12:00:00+08:00'))).toBe(60);
  });

  it('is 0 on the day of birth', () => {
    expect(ageOn('2024-06-01', NOW)).toBe(0);
  });

  it('throws on an invalid birth date', () => {
    expect(() => ageOn('1964-02-30', NOW)).toThrow(RangeError);
    expect(() => ageOn('19640601', NOW)).toThrow(RangeError);
  });
});

describe('shanghaiCalendarDate', () => {
  it('returns the date in Beijing', () => {
    expect(shanghaiCalendarDate(new Date('2023-12-31T16:00:00Z'))).toEqual({ year: 2024, month: 1, day: 1 });
    expect(shanghaiCalendarDate(new Date('2023-12-31T15:59:59Z'))).toEqual({ year: 2023, month: 12, day: 31 });
  });

  it('throws on an invalid Date', () => {
    expect(() => shanghaiCalendarDate(new Date('not a date'))).toThrow(RangeError);
  });
});

describe('maskResidentId', () => {
  it('keeps the first 3 and last 4 characters', () => {
    expect(maskResidentId('110105194912311234')).toBe('110***********1234');
    expect(maskResidentId('11010519491231002X')).toBe('110***********002X');
  });

  it('shows a lowercase x as X', () => {
    expect(maskResidentId('11010519491231002x')).toBe('110***********002X');
  });

  it('masks other lengths completely', () => {
    expect(maskResidentId('110105491231002')).toBe('***************');
    expect(maskResidentId('')).toBe('');
  });
});

describe('isMainlandMobile', () => {
  it.each(['13812345678', '19912345678', '17012345678', '15000000000'])('accepts %s', (phone) => {
    expect(isMainlandMobile(phone)).toBe(true);
  });

  it.each([
    ['a 12x prefix', '12812345678'],
    ['a leading 2', '23812345678'],
    ['10 digits', '1381234567'],
    ['12 digits', '138123456789'],
    ['a country code', '+8613812345678'],
    ['spaces', '138 1234 5678'],
    ['a landline', '01065123456'],
  ])('rejects %s', (_case, phone) => {
    expect(isMainlandMobile(phone)).toBe(false);
  });
});

describe('maskPhone', () => {
  it('keeps the first 3 and last 4 digits', () => {
    expect(maskPhone('13812345678')).toBe('138****5678');
  });

  it('masks other lengths completely', () => {
    expect(maskPhone('1381234567')).toBe('**********');
    expect(maskPhone('')).toBe('');
  });
});
