import type { MikroORM } from '@mikro-orm/postgresql';
import { postTransferIn } from '../../db/ledger';
import { grantAccountId, personalAccountId } from '../../db/reference';
import { CARE_HOME_TERMINAL_STATUSES } from '../../domain/care-home';
import { formatCoins } from '../../domain/coins';
import { careHomeWorkflowId } from '../../domain/cases';
import type { Policy } from '../../domain/policy';
import { sleep } from './concurrency';
import { ApiClient, toRequestError } from './http';
import type { Person } from './population';
import { trainingDate, volunteerRegistration, type TokenBook } from './setup';

/** The two care-home paths the demo drives: one application admitted, one rejected. */
export type CareHomePath = 'admitted' | 'rejected';

/** An account as GET /v1/accounts/:id returns it, in minutes. */
export interface AccountSnapshot {
  balance: number;
  reserved: number;
  available: number;
}

export interface CareHomeResult {
  path: CareHomePath;
  applicantId?: string;
  caseId?: string;
  workflowId?: string;
  finalStatus?: string;
  /** The applicant's account before applying, while the application was open, and at the end. */
  accounts: { beforeApplying?: AccountSnapshot; whileOpen?: AccountSnapshot; atEnd?: AccountSnapshot };
  /** Minutes the care_home_spend entry took from the applicant's account; 0 when there is none. */
  spentMinutes: number;
  /** Case timeline events in order, as GET /v1/cases/:id returns them. */
  timeline: string[];
  /** Every way the run differed from the expected path. */
  problems: string[];
}

export interface CareHomeEnvironment {
  api: ApiClient;
  tokens: TokenBook;
  orm: MikroORM;
  policy: Policy;
  runId: string;
}

interface CaseBody {
  id: string;
  status: string;
  timeline: Array<{ event: string }>;
}

interface AccountBody {
  balance: { minutes: number };
  reserved: { minutes: number };
  available: { minutes: number };
}

interface EntryBody {
  items: Array<{ kind: string; amount: { minutes: number } }>;
}

/** How long the demo waits for the workflow to reach a status it moves to on its own (eligibility, placement). */
const STATUS_WAIT_MS = 60_000;
const STATUS_POLL_MS = 200;

/**
 * Drives one care-home application (公办养老机构入住) per path through the
 * HTTP API: `applicants[0]` is admitted and `applicants[1]` rejected. Each
 * applicant is registered as a volunteer and given a service history by
 * seedServiceHistory. The results hold the ledger at each stage, so the
 * report can show the 10,000 coins reserved and then spent or released.
 */
export async function runCareHomeFlows(env: CareHomeEnvironment, applicants: readonly [Person, Person]): Promise<CareHomeResult[]> {
  return [await runCareHomeFlow(env, applicants[0], 'admitted'), await runCareHomeFlow(env, applicants[1], 'rejected')];
}

async function runCareHomeFlow(env: CareHomeEnvironment, applicant: Person, path: CareHomePath): Promise<CareHomeResult> {
  const result: CareHomeResult = { path, accounts: {}, spentMinutes: 0, timeline: [], problems: [] };
  try {
    await driveCase(env, applicant, result);
  } catch (err) {
    result.problems.push(`stopped: ${(err as Error).message}`);
  }
  return result;
}

async function driveCase(env: CareHomeEnvironment, applicant: Person, result: CareHomeResult): Promise<void> {
  const { api, tokens, policy } = env;
  const officer = await tokens.officer(applicant.districtCode);
  const applicantId = await registerApplicant(env, applicant);
  result.applicantId = applicantId;
  const volunteer = await tokens.volunteer(applicantId);
  await seedServiceHistory(env.orm, { personId: applicantId, districtCode: applicant.districtCode, policy });

  if (result.path === 'admitted') {
    // A new home with one free bed, so the district has a bed for this case whatever earlier runs left occupied.
    await api.call('POST', '/v1/care-homes', {
      token: officer,
      body: { name: `演示公办养老院 ${env.runId}`, beds: ['101'] },
    });
  }

  result.accounts.beforeApplying = await readAccount(api, volunteer, applicantId);
  const applied = await api.call<CaseBody>('POST', '/v1/cases', {
    token: volunteer,
    idempotencyKey: `demo.${env.runId}.case.${applicantId}`,
    body: {},
  });
  result.caseId = applied.id;
  result.workflowId = careHomeWorkflowId(applied.id);

  const casePath = `/v1/cases/${applied.id}`;
  await waitForStatus(api, officer, casePath, 'awaiting_assessment');
  result.accounts.whileOpen = await readAccount(api, volunteer, applicantId);

  if (result.path === 'admitted') {
    await api.call('POST', `${casePath}/assessment`, { token: officer, body: { abilityLevel: 2, note: '中度失能' } });
    await api.call('POST', `${casePath}/approval`, { token: officer, body: { note: '同意入住' } });
    await waitForStatus(api, officer, casePath, 'awaiting_admission');
    await api.call('POST', `${casePath}/admission`, { token: officer, body: { note: '已办理入住' } });
  } else {
    await api.call('POST', `${casePath}/assessment`, { token: officer, body: { abilityLevel: 1 } });
    await api.call('POST', `${casePath}/rejection`, { token: officer, body: { reason: '申请材料不全，请补齐后重新申请' } });
  }

  const final = await api.call<CaseBody>('GET', casePath, { token: officer });
  result.finalStatus = final.status;
  result.timeline = final.timeline.map((entry) => entry.event);
  result.accounts.atEnd = await readAccount(api, volunteer, applicantId);
  const entries = await api.call<EntryBody>('GET', `/v1/accounts/${applicantId}/entries`, { token: volunteer });
  result.spentMinutes = -entries.items
    .filter((entry) => entry.kind === 'care_home_spend')
    .reduce((sum, entry) => sum + entry.amount.minutes, 0);

  checkLedgerStages(result, policy.careHomeCoinMinutes);
}

/** Compares the three account snapshots with what the path must show, adding a problem for each difference. */
function checkLedgerStages(result: CareHomeResult, coinMinutes: number): void {
  const { beforeApplying, whileOpen, atEnd } = result.accounts;
  const expect = (label: string, actual: number | undefined, expected: number) => {
    if (actual !== expected) result.problems.push(`${label} was ${actual ?? 'unknown'} minutes, expected ${expected}`);
  };
  if (result.finalStatus !== result.path) result.problems.push(`final status ${result.finalStatus}, expected ${result.path}`);
  const before = beforeApplying?.balance ?? 0;
  expect('reserved while the application was open', whileOpen?.reserved, coinMinutes);
  expect('reserved at the end', atEnd?.reserved, 0);
  if (result.path === 'admitted') {
    expect('care_home_spend', result.spentMinutes, coinMinutes);
    expect('balance at the end', atEnd?.balance, before - coinMinutes);
  } else {
    expect('care_home_spend', result.spentMinutes, 0);
    expect('available at the end', atEnd?.available, before);
  }
}

/** Registers the applicant through POST /v1/volunteers and returns the new person id. */
async function registerApplicant(env: CareHomeEnvironment, applicant: Person): Promise<string> {
  const response = await env.api.send('POST', '/v1/volunteers', {
    token: await env.tokens.reviewer(applicant.districtCode),
    body: volunteerRegistration(applicant, { trainedOn: trainingDate(0), insured: true }),
  });
  if (response.status !== 201) throw toRequestError('POST', '/v1/volunteers', response);
  return (response.body as { id: string }).id;
}

/**
 * Writes a volunteer's past service straight into the database: the served
 * time the care-home rule counts and the coins that service would have
 * earned, as one ledger transfer from the district's grant account. Ten
 * thousand hours of orders cannot run in a demo, so this replaces years of
 * settled orders. The transfer memo marks it as demo data, and the demo
 * report repeats that. Everything after it, from the application on, goes through the API.
 */
export async function seedServiceHistory(
  orm: MikroORM,
  input: { personId: string; districtCode: string; policy: Policy },
): Promise<void> {
  const { personId, districtCode, policy } = input;
  await orm.em.fork().transactional(async (tx) => {
    await tx.execute(`update person set served_minutes = served_minutes + ? where id = ?`, [policy.careHomeServedMinutes, personId]);
    await postTransferIn(tx, {
      id: `demo-service-history:${personId}`,
      kind: 'grant',
      debitAccountId: grantAccountId(districtCode),
      creditAccountId: personalAccountId(personId),
      amount: policy.careHomeCoinMinutes,
      memo: '演示数据：代替多年服务所得的时间币（仅用于演示）',
    });
  });
}

async function readAccount(api: ApiClient, token: string, personId: string): Promise<AccountSnapshot> {
  const body = await api.call<AccountBody>('GET', `/v1/accounts/${personId}`, { token });
  return { balance: body.balance.minutes, reserved: body.reserved.minutes, available: body.available.minutes };
}

/** Polls the case until it reaches `status`. Raises when it ends in another status or STATUS_WAIT_MS passes. */
async function waitForStatus(api: ApiClient, token: string, casePath: string, status: string): Promise<void> {
  const deadline = Date.now() + STATUS_WAIT_MS;
  let last: CaseBody | undefined;
  while (Date.now() < deadline) {
    last = await api.call<CaseBody>('GET', casePath, { token });
    if (last.status === status) return;
    if ((CARE_HOME_TERMINAL_STATUSES as readonly string[]).includes(last.status)) break;
    await sleep(STATUS_POLL_MS);
  }
  throw new Error(`case ${casePath} is ${last?.status ?? 'unknown'}, expected ${status}`);
}

/** Renders the care-home results for the demo report. */
export function formatCareHomeResults(results: readonly CareHomeResult[], workflowUrl?: (workflowId: string) => string): string[] {
  const coins = (minutes: number | undefined) => (minutes === undefined ? '?' : formatCoins(minutes));
  const lines: string[] = [];
  for (const result of results) {
    const { beforeApplying, whileOpen, atEnd } = result.accounts;
    const verdict = result.problems.length === 0 ? 'OK' : 'FAILED';
    lines.push(`  ${result.path}: ${verdict}, case ${result.caseId ?? '-'} ended ${result.finalStatus ?? 'unfinished'}`);
    lines.push(
      `    ledger 账户: balance ${coins(beforeApplying?.balance)} before applying; reserved ${coins(whileOpen?.reserved)} while open; ` +
        (result.path === 'admitted'
          ? `spent ${coins(result.spentMinutes)} at admission (care_home_spend), balance ${coins(atEnd?.balance)} after`
          : `reservation released, available ${coins(atEnd?.available)} after`),
    );
    lines.push(`    timeline 进度: ${result.timeline.join(' → ') || '-'}`);
    if (result.workflowId) lines.push(`    history 工作流历史: ${workflowUrl ? workflowUrl(result.workflowId) : result.workflowId}`);
    for (const problem of result.problems) lines.push(`    problem: ${problem}`);
  }
  lines.push(
    '  note 说明: each applicant\'s 10,000 hours and 10,000 coins are seeded in the database (memo "演示数据") because the demo cannot run',
    '  years of orders; everything from the application on goes through the API and the care-home workflow.',
  );
  return lines;
}
