import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { PersonalDataCipher } from '../runtime/personal-data';

/*
 * Reads and writes of the person table with the personal data fields sealed:
 * resident ID and phone numbers go in as ciphertext with their key id and
 * lookup hash, and come out decrypted for the caller to mask.
 */

interface PersonRow {
  id: string;
  resident_id_cipher: Buffer;
  resident_id_key_id: string;
  phone_cipher: Buffer;
  phone_key_id: string;
  name: string;
  birth_date: string;
  district_code: string;
  street_code: string;
  address: string;
  is_elder: boolean;
  is_volunteer: boolean;
  volunteer_status: 'active' | 'suspended' | 'revoked';
  insurance: 'registry' | 'organisation' | 'none';
  insurance_confirmed_by: string | null;
  insurance_confirmed_on: string | null;
  trained_on: string | null;
  served_minutes: string;
  guardian_id: string | null;
}

/** A person with the ID and phone numbers in plain text: mask them before they leave the process. */
export interface PersonRecord {
  id: string;
  residentId: string;
  phone: string;
  name: string;
  /** YYYY-MM-DD. */
  birthDate: string;
  districtCode: string;
  streetCode: string;
  address: string;
  isElder: boolean;
  isVolunteer: boolean;
  volunteerStatus: 'active' | 'suspended' | 'revoked';
  insurance: 'registry' | 'organisation' | 'none';
  insuranceConfirmedBy: string | null;
  insuranceConfirmedOn: string | null;
  trainedOn: string | null;
  servedMinutes: number;
  guardianId: string | null;
}

const PERSON_COLUMNS = `id, resident_id_cipher, resident_id_key_id, phone_cipher, phone_key_id, name,
  to_char(birth_date, 'YYYY-MM-DD') as birth_date, district_code, street_code, address, is_elder, is_volunteer,
  volunteer_status, insurance, insurance_confirmed_by, to_char(insurance_confirmed_on, 'YYYY-MM-DD') as insurance_confirmed_on,
  to_char(trained_on, 'YYYY-MM-DD') as trained_on, served_minutes, guardian_id`;

function toRecord(cipher: PersonalDataCipher, row: PersonRow): PersonRecord {
  return {
    id: row.id,
    residentId: cipher.open(row.id, 'residentId', { ciphertext: row.resident_id_cipher, keyId: row.resident_id_key_id }),
    phone: cipher.open(row.id, 'phone', { ciphertext: row.phone_cipher, keyId: row.phone_key_id }),
    name: row.name,
    birthDate: row.birth_date,
    districtCode: row.district_code,
    streetCode: row.street_code,
    address: row.address,
    isElder: row.is_elder,
    isVolunteer: row.is_volunteer,
    volunteerStatus: row.volunteer_status,
    insurance: row.insurance,
    insuranceConfirmedBy: row.insurance_confirmed_by,
    insuranceConfirmedOn: row.insurance_confirmed_on,
    trainedOn: row.trained_on,
    servedMinutes: Number(row.served_minutes),
    guardianId: row.guardian_id,
  };
}

export async function findPerson(em: EntityManager, cipher: PersonalDataCipher, id: string): Promise<PersonRecord | undefined> {
  const rows = await em.execute<PersonRow[]>(`select ${PERSON_COLUMNS} from person where id = ?`, [id]);
  return rows[0] ? toRecord(cipher, rows[0]) : undefined;
}

/** Finds the person with this resident ID number through its lookup hash, locking the row when `forUpdate`. */
export async function findPersonByResidentId(
  em: EntityManager,
  cipher: PersonalDataCipher,
  residentId: string,
  forUpdate = false,
): Promise<PersonRecord | undefined> {
  const rows = await em.execute<PersonRow[]>(
    `select ${PERSON_COLUMNS} from person where resident_id_hash = ? ${forUpdate ? 'for update' : ''}`,
    [cipher.lookupHash('residentId', residentId)],
  );
  return rows[0] ? toRecord(cipher, rows[0]) : undefined;
}

export interface NewPerson {
  id: string;
  residentId: string;
  phone: string;
  name: string;
  birthDate: string;
  districtCode: string;
  streetCode: string;
  address: string;
  isElder: boolean;
  isVolunteer: boolean;
  insurance: 'registry' | 'organisation' | 'none';
  insuranceConfirmedBy?: string | null;
  insuranceConfirmedOn?: string | null;
  trainedOn?: string | null;
  guardianId?: string | null;
  registeredBy?: string | null;
}

/** Inserts a person with the ID and phone numbers sealed under the current key. */
export async function insertPersonRow(em: EntityManager, cipher: PersonalDataCipher, person: NewPerson): Promise<void> {
  const residentId = cipher.seal(person.id, 'residentId', person.residentId);
  const phone = cipher.seal(person.id, 'phone', person.phone);
  await em.execute(
    `insert into person (id, resident_id_cipher, resident_id_key_id, resident_id_hash, phone_cipher, phone_key_id,
       phone_hash, name, birth_date, district_code, street_code, address, is_elder, is_volunteer, insurance,
       insurance_confirmed_by, insurance_confirmed_on, trained_on, guardian_id, registered_by)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [
      person.id,
      residentId.ciphertext,
      residentId.keyId,
      cipher.lookupHash('residentId', person.residentId),
      phone.ciphertext,
      phone.keyId,
      cipher.lookupHash('phone', person.phone),
      person.name,
      person.birthDate,
      person.districtCode,
      person.streetCode,
      person.address,
      person.isElder,
      person.isVolunteer,
      person.insurance,
      person.insuranceConfirmedBy ?? null,
      person.insuranceConfirmedOn ?? null,
      person.trainedOn ?? null,
      person.guardianId ?? null,
      person.registeredBy ?? null,
    ],
  );
}

async function updateSealedColumns(
  em: EntityManager,
  cipher: PersonalDataCipher,
  id: string,
  residentId: string,
  phone: string,
): Promise<void> {
  const sealedId = cipher.seal(id, 'residentId', residentId);
  const sealedPhone = cipher.seal(id, 'phone', phone);
  await em.execute(
    `update person set resident_id_plain = null, resident_id_cipher = ?, resident_id_key_id = ?, resident_id_hash = ?,
       phone_plain = null, phone_cipher = ?, phone_key_id = ?, phone_hash = ?
     where id = ?`,
    [
      sealedId.ciphertext,
      sealedId.keyId,
      cipher.lookupHash('residentId', residentId),
      sealedPhone.ciphertext,
      sealedPhone.keyId,
      cipher.lookupHash('phone', phone),
      id,
    ],
  );
}

/**
 * Seals the ID and phone numbers that rows created before encryption at rest
 * still hold in plain text, batch by batch. Idempotent, and safe to run from
 * several processes at once because each batch skips rows another one locked.
 * Returns the number of rows sealed.
 */
export async function sealLegacyPersonalData(orm: MikroORM, cipher: PersonalDataCipher, batchSize = 500): Promise<number> {
  let sealed = 0;
  for (;;) {
    const count = await orm.em.fork().transactional(async (tx) => {
      const rows = await tx.execute<Array<{ id: string; resident_id_plain: string; phone_plain: string }>>(
        `select id, resident_id_plain, phone_plain from person where resident_id_plain is not null
         order by id limit ? for update skip locked`,
        [batchSize],
      );
      for (const row of rows) {
        await updateSealedColumns(tx, cipher, row.id, row.resident_id_plain, row.phone_plain);
      }
      return rows.length;
    });
    sealed += count;
    if (count < batchSize) return sealed;
  }
}

/**
 * Re-seals personal data under the current key id and recomputes the lookup
 * hashes under the configured hash key. By default only rows sealed under
 * another key id; with `all`, every row, which is needed after a change of
 * the hash key. Rows are read in id order, one batch per transaction.
 * Returns the number of rows re-sealed.
 */
export async function resealPersonalData(
  orm: MikroORM,
  cipher: PersonalDataCipher,
  opts: { all?: boolean; batchSize?: number } = {},
): Promise<number> {
  const batchSize = opts.batchSize ?? 500;
  const staleOnly = opts.all ? '' : 'and (resident_id_key_id <> ? or phone_key_id <> ?)';
  let resealed = 0;
  let afterId = '00000000-0000-0000-0000-000000000000';
  for (;;) {
    const batch = await orm.em.fork().transactional(async (tx) => {
      const rows = await tx.execute<PersonRow[]>(
        `select ${PERSON_COLUMNS} from person where resident_id_plain is null and id > ? ${staleOnly}
         order by id limit ? for update`,
        opts.all ? [afterId, batchSize] : [afterId, cipher.currentKeyId, cipher.currentKeyId, batchSize],
      );
      for (const row of rows) {
        const record = toRecord(cipher, row);
        await updateSealedColumns(tx, cipher, row.id, record.residentId, record.phone);
      }
      return rows.map((row) => row.id);
    });
    resealed += batch.length;
    if (batch.length < batchSize) return resealed;
    afterId = batch[batch.length - 1];
  }
}
