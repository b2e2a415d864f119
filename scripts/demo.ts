/**
 * The demo driver. It registers a synthetic population over the HTTP API and
 * funds the elders with grants. It runs two care-home applications, one to
 * admission and one to rejection. Then it drives a few hundred service orders
 * through every path of the order lifecycle at once. A closing report checks
 * each outcome, the ledger and the settlement payments.
 *
 * `npm run demo` starts the whole system (scripts/start.ts --demo) and calls
 * runDemo. With the demo clock (20 ms per policy minute) a run of 240 orders
 * took about 4.2 minutes on a two-core machine, most of it the seven policy
 * days before automatic settlement.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import { mintToken } from '../api/auth';
import type { LedgerCheck } from '../db/ledger';
import { orderWorkflowId } from '../domain/order';
import type { Policy } from '../domain/policy';
import { runCareHomeFlows } from './demo/care-home';
import { checkSettlementPayments, checkWorkflowsCompleted } from './demo/checks';
import { scanPersonalData } from './demo/pii-scan';
import { Deferred } from './demo/concurrency';
import type { FlowEnvironment } from './demo/driver';
import { ApiClient } from './demo/http';
import { OrderResult, runOrderFlows } from './demo/paths';
import { fundingByElder, OrderPlan, planOrders } from './demo/plan';
import { generatePopulation } from './demo/population';
import { startProgress } from './demo/progress';
import { buildReport, DemoReport, formatReport } from './demo/report';
import { fundElders, registerPopulation, TokenBook } from './demo/setup';

export type { DemoReport } from './demo/report';

export interface DemoOptions {
  /** Base URL of the running API, without /v1. */
  apiUrl: string;
  /** The HS256 secret and issuer the API verifies tokens with. */
  jwtSecret: string;
  issuer: string;
  /** Real milliseconds per policy minute; must match the running system. */
  minuteMs: number;
  /** The policy of the running system. */
  policy: Policy;
  /** For the checks after the run: ledger, settlement payments. */
  orm: MikroORM;
  /** For checking that every order's workflow completed. */
  temporal: Client;
  /** Orders to drive; at least one per path (12). Default 240. */
  orders?: number;
  /** Population seed; by default a new one per run, printed in the report. */
  seed?: number;
  /** Log lines the service wrote during the run, for the personal-data scan. */
  logLines?: readonly string[];
  /** Population size; defaults 120 elders and 80 volunteers. */
  elders?: number;
  volunteers?: number;
  /** Link to a workflow in the Temporal web UI, printed beside the care-home cases. */
  workflowUrl?: (workflowId: string) => string;
}

const DEFAULT_ORDERS = 240;
const DEFAULT_ELDERS = 120;
const DEFAULT_VOLUNTEERS = 80;
/** Registration and grant requests in flight at once. */
const SETUP_CONCURRENCY = 12;
/** Any demo requests in flight at once, so the driver cannot flood a two-core machine. */
const MAX_REQUESTS_IN_FLIGHT = 32;
/** The order phase starts this long after planning, so the first orders are not already late. */
const PHASE_START_DELAY_MS = 1_000;

/** Runs the demo against a running system, prints the report to stdout and returns it. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const startedAt = Date.now();
  const { policy, minuteMs } = options;
  const orders = options.orders ?? DEFAULT_ORDERS;
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  const runId = randomBytes(4).toString('hex');
  const api = new ApiClient(options.apiUrl, MAX_REQUESTS_IN_FLIGHT);
  const tokens = new TokenBook(options.jwtSecret, options.issuer);
  const note = (message: string) => process.stderr.write(`demo: ${message}\n`);

  const population = generatePopulation({
    seed,
    elders: options.elders ?? DEFAULT_ELDERS,
    volunteers: options.volunteers ?? DEFAULT_VOLUNTEERS,
    today: new Date(),
  });
  note(`seed ${seed}: registering ${population.elders.length} elders and ${population.volunteers.length} volunteers`);
  const people = await registerPopulation(api, tokens, population, SETUP_CONCURRENCY);
  if (people.alreadyRegistered > 0) {
    note(`${people.alreadyRegistered} people were already registered by an earlier run and are left out`);
  }

  // Two older volunteers apply for a public care home: one is admitted, one rejected.
  const applicants = generatePopulation({ seed: seed + 1, elders: 2, volunteers: 0, today: new Date() }).elders;
  note('running two care-home applications: one to admission, one to rejection');
  const careHome = await runCareHomeFlows(
    { api, tokens, orm: options.orm, policy, runId },
    [applicants[0], applicants[1]],
  );

  const plans = planOrders({ orders, elders: people.elders, volunteers: people.volunteers, policy });
  const grantedMinutes = await fundElders(api, tokens, people.elders, fundingByElder(plans, policy), {
    runId,
    veryOldAge: policy.veryOldAge,
    concurrency: SETUP_CONCURRENCY,
  });

  const env: FlowEnvironment = {
    api,
    tokens,
    policy,
    minuteMs,
    runId,
    phaseStartMs: Date.now() + PHASE_START_DELAY_MS,
    hostMatched: new Map(
      plans.flatMap((plan) => (plan.overlapHost ? [[plan.overlapHost.index, new Deferred<void>()] as const] : [])),
    ),
    refusals: { overlap: 0, insurance: 0 },
  };
  note(`driving ${plans.length} orders; estimated ${Math.round(estimatePhaseMs(plans, policy, minuteMs) / 1000)} s`);
  const progress = startProgress('orders', plans.length);
  let results: OrderResult[];
  try {
    results = await runOrderFlows(plans, env, progress);
  } finally {
    progress.stop();
  }

  note('reconciling the ledger and checking the settlement payments and the workflows');
  const orderIds = results.flatMap((result) => (result.orderId ? [result.orderId] : []));
  const ledger = await reconcileThroughApi(options);
  const payments = await checkSettlementPayments(options.orm.em.fork(), orderIds);
  const caseWorkflowIds = careHome.flatMap((result) => (result.workflowId ? [result.workflowId] : []));
  const workflowIds = [...orderIds.map(orderWorkflowId), ...caseWorkflowIds];
  const workflows = await checkWorkflowsCompleted(options.temporal, workflowIds);
  note('scanning responses, logs and workflow histories for unmasked ID and phone numbers');
  const personalData = await scanPersonalData({
    secrets: [...population.elders, ...population.volunteers, ...applicants].flatMap((person) => [person.residentId, person.phone]),
    responses: api.responseBodies,
    logLines: options.logLines ?? [],
    temporal: options.temporal,
    workflowIds,
  });

  const report = buildReport({
    seed,
    wallSeconds: (Date.now() - startedAt) / 1000,
    minuteMs,
    people: {
      elders: people.elders.length,
      volunteers: people.volunteers.length,
      uninsuredVolunteers: people.volunteers.filter((volunteer) => !volunteer.insured).length,
      alreadyRegistered: people.alreadyRegistered,
    },
    grantedMinutes,
    results,
    careHome,
    refusals: env.refusals,
    ledger,
    payments,
    workflows,
    personalData,
    latencies: api.latencies,
  });
  process.stdout.write(formatReport(report, options.workflowUrl));
  return report;
}

/**
 * Runs a ledger reconciliation through the operator endpoint, as an operator
 * would after the run. It covers the ledger invariants and checks every
 * settled order against its settlement and every pending reservation against
 * an open order.
 */
async function reconcileThroughApi(options: DemoOptions): Promise<LedgerCheck> {
  const token = await mintToken(options.jwtSecret, options.issuer, { sub: randomUUID(), role: 'operator' });
  const response = await fetch(`${options.apiUrl}/v1/ops/reconciliations`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  const body = (await response.json()) as { ok?: boolean; problems?: string[]; detail?: string };
  if (response.status !== 201) {
    return { ok: false, problems: [`POST /v1/ops/reconciliations failed with HTTP ${response.status}: ${body.detail ?? ''}`] };
  }
  return { ok: body.ok === true, problems: body.problems ?? [] };
}

/**
 * Estimates the order phase in milliseconds from the latest planned timer:
 * automatic settlement after sign-out, or otherwise automatic close after
 * the booked end. An estimate only, because requests and polls add time.
 */
function estimatePhaseMs(plans: readonly OrderPlan[], policy: Policy, minuteMs: number): number {
  const ends = plans.map((plan) => {
    const serviceEnd = plan.startAtMinute + policy.signInClosesAfterStartMinutes + plan.bookedMinutes;
    const wait = plan.path === 'auto_settled' ? policy.autoSettleAfterSignOutMinutes : policy.autoCloseAfterBookedEndMinutes;
    return serviceEnd + wait;
  });
  return Math.max(...ends) * minuteMs + PHASE_START_DELAY_MS;
}
