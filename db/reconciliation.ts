import { EntityManager } from '@mikro-orm/postgresql';
import { checkLedger } from './ledger';

export interface ReconciliationResult {
  ok: boolean;
  accountsChecked: number;
  problems: string[];
}

/**
 * Recomputes the ledger from its entries and checks it against the orders.
 * Besides the invariants of checkLedger, every order settled with a positive
 * amount needs exactly one settlement transfer and other orders need none.
 * Every pending reservation must belong to an order that can still settle.
 */
export async function reconcile(em: EntityManager): Promise<ReconciliationResult> {
  const ledger = await checkLedger(em);
  const problems = [...ledger.problems];

  const settlements = await em.execute<Array<{ id: string; status: string; settled_minutes: number | null; transfers: string }>>(`
    select o.id, o.status, o.settled_minutes, count(t.id) as transfers
    from service_order o
    left join transfer t on t.order_id = o.id and t.kind = 'order_settlement'
    group by o.id, o.status, o.settled_minutes
    having count(t.id) <> case when o.status = 'settled' and coalesce(o.settled_minutes, 0) > 0 then 1 else 0 end`);
  for (const s of settlements) {
    problems.push(`order ${s.id} (${s.status}, ${s.settled_minutes ?? 0} minutes) has ${s.transfers} settlement transfers`);
  }

  const amounts = await em.execute<Array<{ id: string; settled_minutes: number; amount: string }>>(`
    select o.id, o.settled_minutes, t.amount from service_order o
    join transfer t on t.order_id = o.id and t.kind = 'order_settlement'
    where t.amount <> o.settled_minutes`);
  for (const a of amounts) {
    problems.push(`order ${a.id} settled ${a.settled_minutes} minutes but its transfer moved ${a.amount}`);
  }

  const orphans = await em.execute<Array<{ id: string; status: string | null }>>(`
    select r.id, o.status from reservation r
    left join service_order o on o.id = r.order_id
    where r.kind = 'order' and r.status = 'pending'
      and (o.id is null or o.status not in ('open', 'matched', 'in_service', 'awaiting_rating', 'disputed'))`);
  for (const o of orphans) {
    problems.push(`reservation ${o.id} is pending but its order is ${o.status ?? 'missing'}`);
  }

  const [{ count }] = await em.execute<Array<{ count: string }>>(`select count(*) as count from account`);
  return { ok: problems.length === 0, accountsChecked: Number(count), problems };
}
