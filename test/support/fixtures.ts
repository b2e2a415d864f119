import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { postTransfer } from '../../db/ledger';
import { grantAccountId, personalAccountId } from '../../db/reference';
import { makeResidentId } from '../../domain/resident-id';

let sequence = 0;

/** A street of 朝阳区 used by fixtures. */
export const DISTRICT = '110105';
export const STREET = '110105001';

export interface PersonFixture {
  id: string;
  residentId: string;
}

/** Inserts a person straight into the database, with a personal account. */
export async function insertPerson(
  orm: MikroORM,
  opts: { elder?: boolean; volunteer?: boolean; insurance?: 'registry' | 'organisation' | 'none'; birthDate?: string } = {},
): Promise<PersonFixture> {
  sequence += 1;
  const id = randomUUID();
  const birthDate = opts.birthDate ?? (opts.elder ? '1950-03-01' : '1990-05-01');
  const residentId = makeResidentId(DISTRICT, birthDate, sequence % 1000);
  const phone = `170${String(10_000_000 + sequence).slice(0, 8)}`;
  const em = orm.em.fork();
  await em.execute(
    `insert into person (id, resident_id, name, phone, birth_date, district_code, street_code, address, is_elder,
       is_volunteer, insurance, trained_on)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      id,
      residentId,
      '测试',
      phone,
      birthDate,
      DISTRICT,
      STREET,
      '朝阳区测试路1号',
      opts.elder ?? false,
      opts.volunteer ?? false,
      opts.insurance ?? (opts.volunteer ? 'registry' : 'none'),
      opts.volunteer ? '2024-01-01' : null,
    ],
  );
  await em.execute(`insert into account (id, kind, person_id) values (?, 'personal', ?)`, [personalAccountId(id), id]);
  return { id, residentId };
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
