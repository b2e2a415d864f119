import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/*
 * Staff password hashes with scrypt (RFC 7914) from node:crypto and a random
 * salt per password. The stored form names its parameters, so they can be
 * raised later without breaking stored hashes:
 *   scrypt$<N>$<r>$<p>$<salt base64>$<hash base64>
 */

/**
 * Cost parameters N = 2^15, r = 8, p = 1 use 32 MiB per hash. One sign-in took
 * roughly 0.2 s in test/authentication.test.ts on a shared 2-core machine.
 */
const COST = { N: 1 << 15, r: 8, p: 1 };
const SALT_BYTES = 16;
const HASH_BYTES = 32;

function derive(password: string, salt: Buffer, N: number, r: number, p: number): Promise<Buffer> {
  // scrypt uses about 128 * N * r bytes, 32 MiB here, which node's default maxmem of 32 MiB rejects.
  const maxmem = 256 * N * r;
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, HASH_BYTES, { N, r, p, maxmem }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, COST.N, COST.r, COST.p);
  return ['scrypt', COST.N, COST.r, COST.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** A hash of a random password, so checking an unknown login takes as long as checking a known one. */
let decoyHash: Promise<string> | undefined;

/**
 * Compares a password with a stored hash in constant time. Without a stored
 * hash (unknown login) it still derives a key, against a decoy, and returns
 * false, so response times do not tell which logins exist.
 */
export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  decoyHash ??= hashPassword(randomBytes(16).toString('hex'));
  const parts = (stored ?? (await decoyHash)).split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return false;
  const expected = Buffer.from(parts[5], 'base64');
  const actual = await derive(password, Buffer.from(parts[4], 'base64'), N, r, p);
  return stored !== null && stored !== undefined && expected.length === actual.length && timingSafeEqual(expected, actual);
}
