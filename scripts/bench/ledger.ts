/**
 * Measures ledger transfers per second and their p50/p99 latency at several
 * client counts, and runs pgbench's built-in TPC-B-like script at the same
 * client counts on the same PostgreSQL server for comparison:
 *
 *   npm run bench:ledger -- [--seconds 10] [--clients 1,8,32] [--accounts 10000] [--hot 10] [--transaction own|orm]
 *
 * --transaction orm wraps postTransferIn in em.transactional instead of
 * calling postTransfer, to measure what the ORM's transaction handling costs.
 * Each run creates two fresh databases on BENCH_DATABASE_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres) and drops them at the end.
 * pgbench must be on PATH; it connects with the same host, port and user.
 */
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { checkLedger, LedgerError, postTransfer, postTransferIn, TransferRequest } from '../../db/ledger';
import { migrate, openOrm } from '../../db/orm';
import { grantAccountId, loadReferenceData } from '../../db/reference';
import { DISTRICT, insertPerson } from '../../test/support/fixtures';

/** Starting balance of every benchmark account, large enough that no gift is rejected. */
const START_MINUTES = 100_000_000;

interface Options {
  serverUrl: string;
  /** 'own': postTransfer with its own transaction; 'orm': em.transactional around postTransferIn. */
  transaction: 'own' | 'orm';
  seconds: number;
  clients: number[];
  accounts: number;
  hot: number;
}

interface RunResult {
  transfers: number;
  rejected: number;
  tps: number;
  p50Ms: number;
  p99Ms: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '1,8,32' },
      accounts: { type: 'string', default: '10000' },
      hot: { type: 'string', default: '10' },
      transaction: { type: 'string', default: 'own' },
    },
  });
  if (values.transaction !== 'own' && values.transaction !== 'orm') {
    throw new Error(`--transaction must be own or orm, got ${values.transaction}`);
  }
  const positive = (name: string, text: string): number => {
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive whole number, got ${text}`);
    return n;
  };
  const options: Options = {
    serverUrl: process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
    transaction: values.transaction,
    seconds: positive('seconds', values.seconds!),
    clients: values.clients!.split(',').map((c) => positive('clients', c)),
    accounts: positive('accounts', values.accounts!),
    hot: positive('hot', values.hot!),
  };
  if (options.hot < 2 || options.hot > options.accounts) {
    throw new Error(`--hot must be between 2 and --accounts (${options.accounts}), got ${options.hot}`);
  }
  return options;
}

function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(serverUrl: string, sql: string): Promise<void> {
  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const index = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.max(0, index)];
}

/**
 * Creates `count` personal accounts of one person, each funded with
 * START_MINUTES by a grant. Setup writes the rows in bulk SQL instead of going
 * through postTransfer, and checkLedger verifies them before the timed runs.
 */
async function createAccounts(orm: MikroORM, count: number): Promise<string[]> {
  const owner = await insertPerson(orm);
  const grant = grantAccountId(DISTRICT);
  await orm.em.fork().transactional(async (tx) => {
    await tx.execute(
      `insert into account (id, kind, person_id) select 'bench:' || n, 'personal', ? from generate_series(1, ?) n`,
      [owner.id, count],
    );
    await tx.execute(
      `insert into transfer (id, kind, debit_account_id, credit_account_id, amount, request_hash)
       select 'bench-grant:' || n, 'grant', ?, 'bench:' || n, ?, 'bench setup' from generate_series(1, ?) n`,
      [grant, START_MINUTES, count],
    );
    await tx.execute(
      `insert into entry (account_id, version, transfer_id, amount, balance_after)
       select ?, n, 'bench-grant:' || n, -?::bigint, -?::bigint * n from generate_series(1, ?) n
       union all
       select 'bench:' || n, 1, 'bench-grant:' || n, ?, ? from generate_series(1, ?) n`,
      [grant, START_MINUTES, START_MINUTES, count, START_MINUTES, START_MINUTES, count],
    );
    await tx.execute(`update account set balance = ?, version = 1 where id like 'bench:%'`, [START_MINUTES]);
    await tx.execute(`update account set balance = -?::bigint * ?, version = ? where id = ?`, [
      START_MINUTES,
      count,
      count,
      grant,
    ]);
  });
  const check = await checkLedger(orm.em.fork());
  if (!check.ok) throw new Error(`benchmark setup broke the ledger: ${check.problems.join('; ')}`);
  return Array.from({ length: count }, (_, i) => `bench:${i + 1}`);
}

/** Runs `clients` loops that post gifts between random distinct accounts for `seconds`. */
async function runLedger(
  orm: MikroORM,
  transaction: Options['transaction'],
  accounts: string[],
  clients: number,
  seconds: number,
  label: string,
): Promise<RunResult> {
  const post = (request: TransferRequest) =>
    transaction === 'own' ? postTransfer(orm.em.fork(), request) : orm.em.fork().transactional((tx) => postTransferIn(tx, request));
  const latencies: number[] = [];
  let rejected = 0;
  let sequence = 0;
  const runId = randomBytes(4).toString('hex');
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(seconds) * 1_000_000_000n;

  async function client(): Promise<void> {
    while (process.hrtime.bigint() < deadline) {
      const from = Math.floor(Math.random() * accounts.length);
      let to = Math.floor(Math.random() * (accounts.length - 1));
      if (to >= from) to += 1;
      sequence += 1;
      const begin = process.hrtime.bigint();
      try {
        await post({
          id: `bench:${label}:${runId}:${sequence}`,
          kind: 'gift',
          debitAccountId: accounts[from],
          creditAccountId: accounts[to],
          amount: 1 + Math.floor(Math.random() * 120),
        });
      } catch (err) {
        if (!(err instanceof LedgerError && err.code === 'INSUFFICIENT_BALANCE')) throw err;
        rejected += 1;
      }
      latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
    }
  }

  await Promise.all(Array.from({ length: clients }, () => client()));
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    transfers: latencies.length,
    rejected,
    tps: latencies.length / elapsedSeconds,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

function runCommand(command: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(stdout + stderr);
      else reject(new Error(`${command} ${args.join(' ')} exited with code ${code}: ${stderr.trim()}`));
    });
  });
}

function pgbenchConnectionArgs(url: string): string[] {
  const parsed = new URL(url);
  return ['-h', parsed.hostname, '-p', parsed.port || '5432', '-U', decodeURIComponent(parsed.username || 'postgres')];
}

/** Runs pgbench's TPC-B-like script and reads per-transaction latencies from its log files. */
async function runPgbench(url: string, database: string, clients: number, seconds: number): Promise<RunResult> {
  const logDir = mkdtempSync(join(tmpdir(), 'timebank-pgbench-'));
  try {
    const output = await runCommand(
      'pgbench',
      [...pgbenchConnectionArgs(url), '-c', String(clients), '-j', String(clients), '-T', String(seconds), '-l', '--log-prefix', join(logDir, 'tx'), database],
      logDir,
    );
    const tpsMatch = /tps = ([0-9.]+) \(without initial connection time\)/.exec(output);
    if (!tpsMatch) throw new Error(`could not read tps from pgbench output:\n${output}`);
    const failedMatch = /number of failed transactions: (\d+)/.exec(output);
    // Log line: client_id transaction_no latency_us script_no epoch_s epoch_us
    const latencies: number[] = [];
    for (const file of readdirSync(logDir)) {
      for (const line of readFileSync(join(logDir, file), 'utf8').split('\n')) {
        const fields = line.split(' ');
        if (fields.length >= 3) latencies.push(Number(fields[2]) / 1000);
      }
    }
    latencies.sort((a, b) => a - b);
    return {
      transfers: latencies.length,
      rejected: failedMatch ? Number(failedMatch[1]) : 0,
      tps: Number(tpsMatch[1]),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
    };
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

function formatRow(cells: string[], widths: number[]): string {
  return `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  process.stdout.write(`${formatRow(header, widths)}\n`);
  process.stdout.write(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |\n`);
  for (const row of rows) process.stdout.write(`${formatRow(row, widths)}\n`);
}

async function main(): Promise<void> {
  const options = parseOptions();
  const suffix = randomBytes(6).toString('hex');
  const ledgerDb = `timebank_bench_${suffix}`;
  const pgbenchDb = `timebank_pgbench_${suffix}`;
  const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);
  const maxClients = Math.max(...options.clients);

  await adminQuery(options.serverUrl, `create database ${ledgerDb}`);
  await adminQuery(options.serverUrl, `create database ${pgbenchDb}`);
  let orm: MikroORM | undefined;
  try {
    orm = await openOrm(databaseUrl(options.serverUrl, ledgerDb), maxClients);
    await migrate(orm);
    await loadReferenceData(orm.em.fork());
    log(`creating ${options.accounts} funded accounts in ${ledgerDb}`);
    const accounts = await createAccounts(orm, options.accounts);
    const hotAccounts = accounts.slice(0, options.hot);

    log(`pgbench -i ${pgbenchDb}`);
    await runCommand('pgbench', [...pgbenchConnectionArgs(options.serverUrl), '-i', '-q', pgbenchDb], tmpdir());

    const results: Array<{ clients: number; uniform: RunResult; hot: RunResult; pgbench: RunResult }> = [];
    for (const clients of options.clients) {
      log(`${clients} clients: ledger over ${accounts.length} accounts for ${options.seconds} s`);
      const uniform = await runLedger(orm, options.transaction, accounts, clients, options.seconds, `uniform-${clients}`);
      log(`${clients} clients: ledger over ${hotAccounts.length} hot accounts for ${options.seconds} s`);
      const hot = await runLedger(orm, options.transaction, hotAccounts, clients, options.seconds, `hot-${clients}`);
      log(`${clients} clients: pgbench for ${options.seconds} s`);
      const pgbench = await runPgbench(options.serverUrl, pgbenchDb, clients, options.seconds);
      results.push({ clients, uniform, hot, pgbench });
    }

    const check = await checkLedger(orm.em.fork());
    log(check.ok ? 'checkLedger: no problems after the runs' : `checkLedger found problems: ${check.problems.join('; ')}`);

    const fixed = (n: number, digits = 0) => n.toFixed(digits);
    printTable(
      [
        'clients',
        `ledger ${options.accounts} acc tps`,
        'p50 ms',
        'p99 ms',
        `ledger ${options.hot} hot tps`,
        'p50 ms',
        'p99 ms',
        'pgbench tps',
        'p50 ms',
        'p99 ms',
        'uniform / pgbench',
        'hot / pgbench',
      ],
      results.map((r) => [
        String(r.clients),
        fixed(r.uniform.tps),
        fixed(r.uniform.p50Ms, 2),
        fixed(r.uniform.p99Ms, 2),
        fixed(r.hot.tps),
        fixed(r.hot.p50Ms, 2),
        fixed(r.hot.p99Ms, 2),
        fixed(r.pgbench.tps),
        fixed(r.pgbench.p50Ms, 2),
        fixed(r.pgbench.p99Ms, 2),
        fixed(r.uniform.tps / r.pgbench.tps, 2),
        fixed(r.hot.tps / r.pgbench.tps, 2),
      ]),
    );
    const rejected = results.reduce((n, r) => n + r.uniform.rejected + r.hot.rejected, 0);
    const failed = results.reduce((n, r) => n + r.pgbench.rejected, 0);
    process.stdout.write(`\nledger transfers rejected: ${rejected}; pgbench failed transactions: ${failed}\n`);
    if (!check.ok) process.exitCode = 1;
  } finally {
    await orm?.close(true);
    await adminQuery(options.serverUrl, `drop database if exists ${ledgerDb} with (force)`);
    await adminQuery(options.serverUrl, `drop database if exists ${pgbenchDb} with (force)`);
  }
}

main().catch((err) => {
  process.stderr.write(`Benchmark failed: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
