import type { LedgerCheck } from '../../db/ledger';
import type { PersonalDataScan } from './pii-scan';
import { formatCoins } from '../../domain/coins';
import { CareHomeResult, formatCareHomeResults } from './care-home';
import type { PaymentCheck, WorkflowCheck } from './checks';
import type { RefusalCounts } from './driver';
import type { LatencySample } from './http';
import type { OrderResult } from './paths';
import { ExpectedOutcome, PATH_NAMES, PATHS, PathName } from './plan';

export interface LatencySummary {
  /** All requests, or one operation such as "POST /v1/orders/:id/accept". */
  operation: string;
  requests: number;
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface PathSummary {
  path: PathName;
  label: string;
  /** The final status the path must reach, with the cancel reason where one applies. */
  expected: string;
  orders: number;
  asExpected: number;
}

export interface StateCount {
  /** A final status, with the cancel reason for cancelled orders, or "unfinished". */
  state: string;
  expected: number;
  actual: number;
}

export interface DemoReport {
  /** False when any order missed its expected outcome or any check failed. */
  ok: boolean;
  seed: number;
  wallSeconds: number;
  minuteMs: number;
  people: { elders: number; volunteers: number; uninsuredVolunteers: number; alreadyRegistered: number };
  grantedMinutes: number;
  orders: number;
  paths: PathSummary[];
  finalStates: StateCount[];
  refusals: { overlap: { expected: number; actual: number }; insurance: { expected: number; actual: number } };
  /** The care-home applications: one admitted, one rejected. */
  careHome: CareHomeResult[];
  /** Sum of this run's order_settlement transfers. */
  coinsMoved: { minutes: number; coins: string };
  ledger: LedgerCheck;
  payments: PaymentCheck;
  workflows: WorkflowCheck;
  personalData: PersonalDataScan;
  /** Over all requests the demo sent. */
  latency: LatencySummary;
  /** Per operation, slowest p95 first. */
  latencyByOperation: LatencySummary[];
  /** One line per failed order or failed check. */
  errors: string[];
}

/** Computes nearest-rank percentiles of request latencies, in milliseconds. */
export function summarizeLatency(operation: string, latenciesMs: readonly number[]): LatencySummary {
  const sorted = [...latenciesMs].sort((a, b) => a - b);
  const at = (percent: number) =>
    sorted.length === 0 ? 0 : sorted[Math.min(sorted.length, Math.max(1, Math.ceil((percent / 100) * sorted.length))) - 1];
  return { operation, requests: sorted.length, p50Ms: at(50), p95Ms: at(95), p99Ms: at(99), maxMs: sorted.at(-1) ?? 0 };
}

function summarizeByOperation(samples: readonly LatencySample[]): LatencySummary[] {
  const byOperation = new Map<string, number[]>();
  for (const sample of samples) {
    const values = byOperation.get(sample.operation) ?? [];
    values.push(sample.ms);
    byOperation.set(sample.operation, values);
  }
  return [...byOperation.entries()]
    .map(([operation, values]) => summarizeLatency(operation, values))
    .sort((a, b) => b.p95Ms - a.p95Ms);
}

function describeOutcome(outcome: ExpectedOutcome): string {
  return outcome.cancelReason ? `${outcome.status} (${outcome.cancelReason})` : outcome.status;
}

export interface ReportInput {
  seed: number;
  wallSeconds: number;
  minuteMs: number;
  people: DemoReport['people'];
  grantedMinutes: number;
  results: readonly OrderResult[];
  careHome: readonly CareHomeResult[];
  refusals: RefusalCounts;
  ledger: LedgerCheck;
  payments: PaymentCheck;
  workflows: WorkflowCheck;
  personalData: PersonalDataScan;
  latencies: readonly LatencySample[];
}

/** Tallies the order results and checks into the report and decides `ok`. */
export function buildReport(input: ReportInput): DemoReport {
  const { results } = input;
  const errors: string[] = [];
  const isAsExpected = (result: OrderResult) => !result.error && result.problems.length === 0;

  for (const result of results) {
    if (result.error) errors.push(result.error);
    else if (result.problems.length > 0) {
      const { plan } = result;
      errors.push(`order #${plan.index} ${result.orderId} (${plan.path}): ${result.problems.join('; ')}`);
    }
  }

  const paths: PathSummary[] = PATH_NAMES.map((path) => {
    const ofPath = results.filter((result) => result.plan.path === path);
    return {
      path,
      label: PATHS[path].label,
      expected: describeOutcome(PATHS[path].expected),
      orders: ofPath.length,
      asExpected: ofPath.filter(isAsExpected).length,
    };
  });

  const states = new Map<string, StateCount>();
  const countState = (state: string, field: 'expected' | 'actual') => {
    const entry = states.get(state) ?? { state, expected: 0, actual: 0 };
    entry[field] += 1;
    states.set(state, entry);
  };
  for (const result of results) {
    countState(describeOutcome(PATHS[result.plan.path].expected), 'expected');
    const final = result.final;
    countState(final ? describeOutcome({ status: final.status as ExpectedOutcome['status'], cancelReason: final.cancelReason }) : 'unfinished', 'actual');
  }
  const finalStates = [...states.values()].sort((a, b) => a.state.localeCompare(b.state));

  const refusals = {
    overlap: { expected: results.filter((r) => r.plan.path === 'overlap_refused').length, actual: input.refusals.overlap },
    insurance: { expected: results.filter((r) => r.plan.uninsuredVolunteer).length, actual: input.refusals.insurance },
  };
  for (const [kind, count] of Object.entries(refusals)) {
    if (count.actual !== count.expected) errors.push(`${kind} refusals: ${count.actual}, expected ${count.expected}`);
  }
  for (const result of input.careHome) {
    for (const problem of result.problems) errors.push(`care-home ${result.path} case ${result.caseId ?? '-'}: ${problem}`);
  }
  for (const problem of input.ledger.problems) errors.push(`ledger: ${problem}`);
  for (const problem of input.payments.problems) errors.push(`payments: ${problem}`);
  for (const problem of input.workflows.problems) errors.push(`workflows: ${problem}`);
  for (const problem of input.personalData.problems) errors.push(`personal data: ${problem}`);

  return {
    ok: errors.length === 0,
    seed: input.seed,
    wallSeconds: input.wallSeconds,
    minuteMs: input.minuteMs,
    people: input.people,
    grantedMinutes: input.grantedMinutes,
    orders: results.length,
    paths,
    finalStates,
    refusals,
    careHome: [...input.careHome],
    coinsMoved: { minutes: input.payments.settledMinutes, coins: formatCoins(input.payments.settledMinutes) },
    ledger: input.ledger,
    payments: input.payments,
    workflows: input.workflows,
    personalData: input.personalData,
    latency: summarizeLatency('all requests', input.latencies.map((sample) => sample.ms)),
    latencyByOperation: summarizeByOperation(input.latencies),
    errors,
  };
}

/** At most this many error lines are printed; the returned report keeps them all. */
const MAX_PRINTED_ERRORS = 30;

/** Renders the report as plain text for stdout; `workflowUrl` links the care-home histories to the Temporal web UI. */
export function formatReport(report: DemoReport, workflowUrl?: (workflowId: string) => string): string {
  const lines: string[] = [];
  const verdict = (ok: boolean) => (ok ? 'OK' : 'FAILED');
  const ms = (value: number) => value.toFixed(1);

  lines.push('', '=== 时间银行演示报告 Time Bank demo report ===');
  lines.push(
    `seed ${report.seed} | ${report.orders} orders | wall time ${report.wallSeconds.toFixed(1)} s | ` +
      `1 policy minute = ${report.minuteMs} ms`,
  );
  const { people } = report;
  lines.push(
    `people 人员: ${people.elders} elders 老人, ${people.volunteers} volunteers 志愿者 ` +
      `(${people.uninsuredVolunteers} without insurance 未投保)` +
      (people.alreadyRegistered > 0 ? `, ${people.alreadyRegistered} skipped as already registered` : ''),
  );
  lines.push(`grants 发放补贴: ${formatCoins(report.grantedMinutes)} coins to elders (the care-home applicants' seeded coins are not counted)`);

  lines.push('', '-- orders per path 各路径订单 (expected vs actual) --');
  lines.push(
    ...table(
      ['path', 'orders', 'expected final', 'as expected', 'description 说明'],
      report.paths.map((p) => [p.path, String(p.orders), p.expected, `${p.asExpected}/${p.orders}`, p.label]),
    ),
  );

  lines.push('', '-- orders per final state 各终态订单 --');
  lines.push(
    ...table(
      ['final state', 'expected', 'actual'],
      report.finalStates.map((s) => [s.state, String(s.expected), String(s.actual)]),
    ),
  );

  lines.push('', '-- care-home applications 公办养老机构入住申请 --');
  lines.push(...formatCareHomeResults(report.careHome, workflowUrl));

  lines.push('', '-- checks 校验 --');
  const { overlap, insurance } = report.refusals;
  lines.push(`overlap refusals 时段重叠拒绝 (409 VOLUNTEER_OVERLAP): ${overlap.actual} of ${overlap.expected} expected`);
  lines.push(`insurance refusals 未投保拒绝 (409 INSURANCE_NOT_CONFIRMED): ${insurance.actual} of ${insurance.expected} expected`);
  lines.push(`coins moved 结算时间币: ${report.coinsMoved.coins} coins (${report.coinsMoved.minutes} minutes)`);
  lines.push(`ledger reconciliation 账本核对: ${verdict(report.ledger.ok)} (${report.ledger.problems.length} discrepancies)`);
  lines.push(
    `paid exactly once 每单恰好结算一次: ${verdict(report.payments.ok)} ` +
      `(${report.payments.paidOrders} paid orders, ${report.payments.problems.length} problems)`,
  );
  lines.push(`workflows completed 工作流均已完成: ${verdict(report.workflows.ok)} (${report.workflows.problems.length} problems)`);
  const scan = report.personalData;
  lines.push(
    `personal data scan 个人信息扫描: ${verdict(scan.ok)} (${scan.responses} responses, ${scan.logLines} log lines, ` +
      `${scan.histories} histories; ${scan.problems.length} unmasked values)`,
  );

  lines.push('', '-- HTTP API latency 接口延迟 (ms, measured by the demo client) --');
  lines.push(
    ...table(
      ['operation', 'requests', 'p50', 'p95', 'p99', 'max'],
      [report.latency, ...report.latencyByOperation].map((l) => [
        l.operation,
        String(l.requests),
        ms(l.p50Ms),
        ms(l.p95Ms),
        ms(l.p99Ms),
        ms(l.maxMs),
      ]),
    ),
  );

  if (report.errors.length > 0) {
    lines.push('', `-- errors 错误 (${report.errors.length}) --`);
    lines.push(...report.errors.slice(0, MAX_PRINTED_ERRORS).map((error) => `  ${error}`));
    if (report.errors.length > MAX_PRINTED_ERRORS) lines.push(`  ... and ${report.errors.length - MAX_PRINTED_ERRORS} more`);
  }
  lines.push('', `result 结果: ${report.ok ? 'OK 通过' : 'FAILED 未通过'}`, '');
  return lines.join('\n');
}

/** Aligns columns, counting CJK characters as two columns wide as terminals draw them. */
function table(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => displayWidth(row[column]))));
  const render = (row: string[]) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell + ' '.repeat(widths[column] - displayWidth(cell))))
      .join('  ')
      .trimEnd();
  return [render(header), render(widths.map((width) => '-'.repeat(width))), ...rows.map(render)].map((line) => `  ${line}`);
}

function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += /[\u2e80-\u9fff\uff00-\uffef]/.test(char) ? 2 : 1;
  return width;
}
