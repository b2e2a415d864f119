import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { postTransfer } from '../../db/ledger';
import { grantAccountId, personalAccountId } from '../../db/reference';
import { insertPersonRow } from '../../db/persons';
import { loadConfig } from '../../domain/config';
import { makeResidentId } from '../../domain/resident-id';
import { PersonalDataCipher } from '../../runtime/personal-data';

let sequence = 0;

/** A street of 朝阳区 used by fixtures. */
export const DISTRICT = '110105';
export const STREET = '110105001';

/**
 * Data-protection keys of every test system, as configuration variables. Two
 * keys are configured so a suite can rotate to 'test-2'. The values are fixed
 * test data, never used outside tests.
 */
export const TEST_DATA_ENV = {
  TIMEBANK_DATA_KEYS: JSON.stringify({
    'test-1': Buffer.alloc(32, 1).toString('base64'),
    'test-2': Buffer.alloc(32, 2).toString('base64'),
  }),
  TIMEBANK_DATA_KEY_ID: 'test-1',
  TIMEBANK_DATA_HASH_KEY: Buffer.alloc(32, 3).toString('base64'),
};

/** The cipher of TEST_DATA_ENV, sealing under `keyId`. */
export function testCipher(keyId = 'test-1'): PersonalDataCipher {
  const keys = loadConfig({ ...TEST_DATA_ENV, TIMEBANK_DATA_KEY_ID: keyId }).dataProtection!;
  return new PersonalDataCipher(keys);
}

export interface PersonFixture {
  id: string;
  residentId: string;
  phone: string;
}

/** Inserts a person straight into the database, with a personal account. */
export async function insertPerson(
  orm: MikroORM,
  opts: {
    elder?: boolean;
    volunteer?: boolean;
    insurance?: 'registry' | 'organisation' | 'none';
    birthDate?: string;
    guardianId?: string;
    districtCode?: string;
    streetCode?: string;
  } = {},
): Promise<PersonFixture> {
  sequence += 1;
  const id = randomUUID();
  const birthDate = opts.birthDate ?? (opts.elder ? '1950-03-01' : '1990-05-01');
  const districtCode = opts.districtCode ?? DISTRICT;
  const residentId = makeResidentId(districtCode, birthDate, sequence % 1000);
  const phone = `170${String(10_000_000 + sequence).slice(0, 8)}`;
  const insurance = opts.insurance ?? (opts.volunteer ? 'registry' : 'none');
  const em = orm.em.fork();
  await insertPersonRow(em, testCipher(), {
    id,
    residentId,
    phone,
    name: '测试',
    birthDate,
    districtCode,
    streetCode: opts.streetCode ?? STREET,
    address: '朝阳区测试路1号',
    isElder: opts.elder ?? false,
    isVolunteer: opts.volunteer ?? false,
    insurance,
    insuranceConfirmedBy: insurance === 'organisation' ? '测试志愿者协会' : null,
    insuranceConfirmedOn: insurance === 'organisation' ? '2024-01-01' : null,
    trainedOn: opts.volunteer ? '2024-01-01' : null,
    guardianId: opts.guardianId ?? null,
  });
  await em.execute(`insert into account (id, kind, person_id) values (?, 'personal', ?)`, [personalAccountId(id), id]);
  return { id, residentId, phone };
}

/** Grants `minutes` to a person from their district's grant account. */
export async function fund(orm: MikroORM, personId: string, minutes: number): Promise<void> {
  await postTransfer(orm.em.fork(), {
    id: `test-grant:${randomUUID()}`,
    kind: 'grant',
    debitAccountId: grantAccountId(DISTRICT),
    creditAccountId: personalAccountId(personId),
    amount: minutes,
  });
}
