import { EntityManager } from '@mikro-orm/postgresql';

/** Equality filters for a list query; undefined values are left out. */
export type Filters = Array<[column: string, value: unknown]>;

export interface Page<Row> {
  rows: Row[];
  total: number;
}

/**
 * Reads one page of `table` matching every filter, with the total count.
 * Column and table names come from the caller's code, never from a request;
 * filter values are bound as parameters.
 */
export async function readPage<Row>(
  em: EntityManager,
  query: { table: string; columns: string; orderBy: string; filters: Filters; limit: number; offset: number },
): Promise<Page<Row>> {
  const applied = query.filters.filter(([, value]) => value !== undefined);
  const whereSql = applied.length > 0 ? `where ${applied.map(([column]) => `${column} = ?`).join(' and ')}` : '';
  const params = applied.map(([, value]) => value);
  const rows = await em.execute<Row[]>(
    `select ${query.columns} from ${query.table} ${whereSql} order by ${query.orderBy} limit ? offset ?`,
    [...params, query.limit, query.offset],
  );
  const [{ total }] = await em.execute<Array<{ total: string }>>(`select count(*) as total from ${query.table} ${whereSql}`, params);
  return { rows, total: Number(total) };
}
