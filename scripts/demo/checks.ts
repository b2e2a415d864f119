import type { EntityManager } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { mapWithConcurrency, sleep } from './concurrency';

export interface PaymentCheck {
  ok: boolean;
  problems: string[];
  /** Sum of the order_settlement transfers of the checked orders, in minutes. */
  settledMinutes: number;
  /** Settled orders with settled minutes above zero, each of which must have exactly one settlement transfer. */
  paidOrders: number;
}

interface PaymentRow {
  id: string;
  status: string;
  settled_minutes: number | null;
  transfers: string;
  paid: string;
}

/**
 * Checks in the database that each of `orderIds` was paid exactly once: a
 * settled order with settled minutes above zero has exactly one
 * order_settlement transfer of that amount, and every other order has none.
 * Also checks that no settlement transfer anywhere names an unknown order.
 */
export async function checkSettlementPayments(em: EntityManager, orderIds: readonly string[]): Promise<PaymentCheck> {
  const problems: string[] = [];
  let settledMinutes = 0;
  let paidOrders = 0;

  if (orderIds.length > 0) {
    const placeholders = orderIds.map(() => '?').join(', ');
    const rows = await em.execute<PaymentRow[]>(
      `select o.id, o.status, o.settled_minutes, count(t.id) as transfers, coalesce(sum(t.amount), 0) as paid
       from service_order o
       left join transfer t on t.order_id = o.id and t.kind = 'order_settlement'
       where o.id in (${placeholders})
       group by o.id, o.status, o.settled_minutes`,
      [...orderIds],
    );
    if (rows.length !== orderIds.length) {
      problems.push(`${orderIds.length - rows.length} of ${orderIds.length} orders are missing from service_order`);
    }
    for (const row of rows) {
      const transfers = Number(row.transfers);
      const paid = Number(row.paid);
      settledMinutes += paid;
      const shouldBePaid = row.status === 'settled' && (row.settled_minutes ?? 0) > 0;
      if (shouldBePaid) {
        paidOrders += 1;
        if (transfers !== 1) problems.push(`settled order ${row.id} has ${transfers} settlement transfers, expected 1`);
        else if (paid !== row.settled_minutes) {
          problems.push(`order ${row.id} was paid ${paid} minutes but settled ${row.settled_minutes}`);
        }
      } else if (transfers !== 0) {
        problems.push(`order ${row.id} (${row.status}) has ${transfers} settlement transfers, expected none`);
      }
    }
  }

  const orphans = await em.execute<Array<{ id: string }>>(
    `select t.id from transfer t
     where t.kind = 'order_settlement'
       and (t.order_id is null or not exists (select 1 from service_order o where o.id = t.order_id))`,
  );
  for (const orphan of orphans) problems.push(`settlement transfer ${orphan.id} names no known order`);

  return { ok: problems.length === 0, problems, settledMinutes, paidOrders };
}

export interface WorkflowCheck {
  ok: boolean;
  problems: string[];
}

/** A final read model is written just before the workflow returns, so give it a moment to close. */
const WORKFLOW_CLOSE_ATTEMPTS = 10;
const WORKFLOW_CLOSE_DELAY_MS = 500;

/** Checks in Temporal that every workflow in `workflowIds` has completed (not failed, timed out or still running). */
export async function checkWorkflowsCompleted(temporal: Client, workflowIds: readonly string[]): Promise<WorkflowCheck> {
  const problems: string[] = [];
  await mapWithConcurrency(workflowIds, 8, async (workflowId) => {
    const handle = temporal.workflow.getHandle(workflowId);
    let status = 'UNKNOWN';
    try {
      for (let attempt = 1; attempt <= WORKFLOW_CLOSE_ATTEMPTS; attempt++) {
        status = (await handle.describe()).status.name;
        if (status !== 'RUNNING') break;
        await sleep(WORKFLOW_CLOSE_DELAY_MS);
      }
    } catch (err) {
      problems.push(`workflow ${handle.workflowId} could not be described: ${(err as Error).message}`);
      return;
    }
    if (status !== 'COMPLETED') problems.push(`workflow ${handle.workflowId} is ${status}, expected COMPLETED`);
  });
  return { ok: problems.length === 0, problems };
}
