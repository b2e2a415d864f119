import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { StaffRole } from './entities';
import { hashPassword } from '../runtime/passwords';

/*
 * Staff accounts (including institution agents) with password sign-in, and
 * the record of failed sign-ins that rate limiting counts.
 */

export type AccountRole = StaffRole | 'agent';

export interface NewStaffAccount {
  id?: string;
  name: string;
  role: AccountRole;
  districtCode?: string | null;
  institutionId?: string | null;
  login: string;
  password: string;
  createdBy?: string | null;
}

/** Raised when the login is already in use. */
export class LoginTakenError extends Error {
  constructor(readonly login: string) {
    super(`login ${login} is already in use`);
    this.name = 'LoginTakenError';
  }
}

/** Creates a staff account with a scrypt password hash; returns its id. */
export async function createStaffAccount(em: EntityManager, account: NewStaffAccount): Promise<string> {
  const id = account.id ?? randomUUID();
  const passwordHash = await hashPassword(account.password);
  const rows = await em.execute<Array<{ id: string }>>(
    `insert into staff (id, name, role, district_code, institution_id, login, password_hash, created_by)
     values (?, ?, ?, ?, ?, ?, ?, ?)
     on conflict (login) do nothing
     returning id`,
    [
      id,
      account.name,
      account.role,
      account.districtCode ?? null,
      account.institutionId ?? null,
      account.login,
      passwordHash,
      account.createdBy ?? null,
    ],
  );
  if (rows.length === 0) throw new LoginTakenError(account.login);
  return id;
}

export interface StaffCredentials {
  id: string;
  role: AccountRole;
  district_code: string | null;
  password_hash: string | null;
  disabled_at: Date | null;
}

export async function findStaffForSignIn(
  em: EntityManager,
  by: { staffId?: string; login?: string },
): Promise<StaffCredentials | undefined> {
  const [row] = await em.execute<StaffCredentials[]>(
    `select id, role, district_code, password_hash, disabled_at from staff where ${by.staffId ? 'id' : 'login'} = ?`,
    [by.staffId ?? by.login],
  );
  return row;
}

export interface SignInLimits {
  windowSeconds: number;
  maxFailuresPerLogin: number;
  maxFailuresPerIp: number;
}

/**
 * Seconds until another sign-in attempt for this login and address is
 * allowed, or 0 when one is allowed now. An attempt is blocked while the
 * window holds the maximum number of failures for the login or the address,
 * until the oldest of those failures leaves the window.
 */
export async function signInRetryAfter(em: EntityManager, login: string, ip: string, limits: SignInLimits): Promise<number> {
  const [row] = await em.execute<Array<{ login_wait: string | null; ip_wait: string | null }>>(
    `select
       (select ceil(extract(epoch from (at + make_interval(secs => ?) - now())))
          from staff_sign_in_failure where login = ? and at > now() - make_interval(secs => ?)
          order by at desc offset ? limit 1) as login_wait,
       (select ceil(extract(epoch from (at + make_interval(secs => ?) - now())))
          from staff_sign_in_failure where ip = ? and at > now() - make_interval(secs => ?)
          order by at desc offset ? limit 1) as ip_wait`,
    [
      limits.windowSeconds,
      login,
      limits.windowSeconds,
      limits.maxFailuresPerLogin - 1,
      limits.windowSeconds,
      ip,
      limits.windowSeconds,
      limits.maxFailuresPerIp - 1,
    ],
  );
  return Math.max(0, Number(row.login_wait ?? 0), Number(row.ip_wait ?? 0));
}

export async function recordSignInFailure(em: EntityManager, login: string, ip: string): Promise<void> {
  await em.execute(`insert into staff_sign_in_failure (login, ip) values (?, ?)`, [login, ip]);
}

/** Forgets the failures of a login after a successful sign-in; failures by address stay. */
export async function clearSignInFailures(em: EntityManager, login: string): Promise<void> {
  await em.execute(`delete from staff_sign_in_failure where login = ?`, [login]);
}
