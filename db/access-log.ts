import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../domain/order';

/*
 * The append-only log of staff reads of personal data. A database trigger
 * rejects every update, delete and truncate of its rows.
 */

/** view: the masked person record was read; reveal: the full value of a field was shown. */
export type AccessAction = 'view' | 'reveal';

export interface AccessEntry {
  actor: Actor;
  personId: string;
  action: AccessAction;
  fields: string[];
  reason?: string;
}

/** Appends one entry and returns its id. */
export async function recordAccess(em: EntityManager, entry: AccessEntry): Promise<string> {
  const [row] = await em.execute<Array<{ id: string }>>(
    `insert into personal_data_access_log (actor_id, actor_role, actor_district_code, person_id, action, fields, reason)
     values (?, ?, ?, ?, ?, ?::text[], ?) returning id`,
    [
      entry.actor.id,
      entry.actor.role,
      entry.actor.districtCode ?? null,
      entry.personId,
      entry.action,
      `{${entry.fields.join(',')}}`,
      entry.reason ?? null,
    ],
  );
  return String(row.id);
}

export interface AccessLogFilter {
  personId?: string;
  actorId?: string;
  action?: AccessAction;
  from?: string;
  to?: string;
  limit: number;
  offset: number;
}

export interface AccessLogRow {
  id: string;
  at: Date;
  actor_id: string;
  actor_role: string;
  actor_district_code: string | null;
  person_id: string;
  action: AccessAction;
  fields: string[];
  reason: string | null;
}

/** Lists entries newest first, with the total that matches the filter. */
export async function listAccess(em: EntityManager, filter: AccessLogFilter): Promise<{ rows: AccessLogRow[]; total: number }> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.personId) {
    where.push('person_id = ?');
    params.push(filter.personId);
  }
  if (filter.actorId) {
    where.push('actor_id = ?');
    params.push(filter.actorId);
  }
  if (filter.action) {
    where.push('action = ?');
    params.push(filter.action);
  }
  if (filter.from) {
    where.push('at >= ?');
    params.push(new Date(filter.from));
  }
  if (filter.to) {
    where.push('at < ?');
    params.push(new Date(filter.to));
  }
  const whereSql = where.length > 0 ? `where ${where.join(' and ')}` : '';
  const rows = await em.execute<AccessLogRow[]>(
    `select id, at, actor_id, actor_role, actor_district_code, person_id, action, fields, reason
     from personal_data_access_log ${whereSql} order by at desc, id desc limit ? offset ?`,
    [...params, filter.limit, filter.offset],
  );
  const [{ total }] = await em.execute<Array<{ total: string }>>(
    `select count(*) as total from personal_data_access_log ${whereSql}`,
    params,
  );
  return { rows, total: Number(total) };
}
