import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type { DataProtectionKeys } from '../domain/secrets-config';

/*
 * Encryption at rest of resident ID numbers and phone numbers. Values are
 * sealed with AES-256-GCM (node:crypto) under a configured key id and found
 * through an HMAC-SHA256 lookup hash, so the database stores only ciphertext
 * and equality lookups need no decryption. Rows written before encryption at
 * rest stay in plain text until the startup step sealLegacyPersonalData runs.
 */

export type PersonalField = 'residentId' | 'phone';

export const PERSONAL_FIELDS: readonly PersonalField[] = ['residentId', 'phone'];

/** A sealed value as stored: the ciphertext and the id of the key that sealed it. */
export interface SealedValue {
  ciphertext: Buffer;
  keyId: string;
}

/** A sealed value could not be opened: unknown key id, wrong row or field, or tampered bytes. */
export class PersonalDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PersonalDataError';
  }
}

/** Leading byte of every ciphertext, so a later format can be distinguished. */
const FORMAT_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const HEADER_BYTES = 1 + IV_BYTES + TAG_BYTES;

/**
 * Seals and opens personal data fields. The additional authenticated data
 * binds each ciphertext to its person and field, so a ciphertext copied into
 * another row or column fails to open.
 */
export class PersonalDataCipher {
  constructor(private readonly keys: DataProtectionKeys) {}

  get currentKeyId(): string {
    return this.keys.currentKeyId;
  }

  seal(personId: string, field: PersonalField, plaintext: string): SealedValue {
    const key = this.keys.keys.get(this.keys.currentKeyId)!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(personId, field));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const ciphertext = Buffer.concat([Buffer.from([FORMAT_VERSION]), iv, cipher.getAuthTag(), body]);
    return { ciphertext, keyId: this.keys.currentKeyId };
  }

  /** Opens a sealed value under whichever configured key sealed it; throws PersonalDataError otherwise. */
  open(personId: string, field: PersonalField, sealed: SealedValue): string {
    const key = this.keys.keys.get(sealed.keyId);
    if (!key) {
      throw new PersonalDataError(`${field} of person ${personId} is sealed under key id ${sealed.keyId}, which is not configured`);
    }
    const data = sealed.ciphertext;
    if (data.length < HEADER_BYTES || data[0] !== FORMAT_VERSION) {
      throw new PersonalDataError(`${field} of person ${personId} is not a sealed value of format ${FORMAT_VERSION}`);
    }
    const iv = data.subarray(1, 1 + IV_BYTES);
    const tag = data.subarray(1 + IV_BYTES, HEADER_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(personId, field));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(data.subarray(HEADER_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new PersonalDataError(`${field} of person ${personId} failed authentication under key id ${sealed.keyId}`);
    }
  }

  /** Returns the lookup hash (hex HMAC-SHA256) of a normalised value of `field`. */
  lookupHash(field: PersonalField, value: string): string {
    return createHmac('sha256', this.keys.hashKey).update(`${field}\0${normaliseValue(field, value)}`, 'utf8').digest('hex');
  }
}

function associatedData(personId: string, field: PersonalField): Buffer {
  return Buffer.from(`person:${personId}:${field}`, 'utf8');
}

/** Upper-cases a resident ID number's check character, so 'x' and 'X' hash alike. */
function normaliseValue(field: PersonalField, value: string): string {
  return field === 'residentId' ? value.toUpperCase() : value;
}
