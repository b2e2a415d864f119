/**
 * Simulator of Volunteer Beijing (志愿北京) for tests and demos: an HTTP server
 * implementing the registry contract on its own PostgreSQL schema, with
 * injectable faults.
 *
 * Besides the contract endpoints it offers control endpoints, authenticated
 * with the same API key, so tests in another process can steer it:
 *
 * - `POST /_sim/volunteers` seeds one volunteer or an array of them;
 * - `GET|POST /_sim/faults` reads or replaces the fault settings;
 * - `POST /_sim/claims/{claimId}/advance` moves a claim one status on
 *   (body `{ "outcome": "rejected" }` to reject at review; approval otherwise);
 * - `GET /_sim/stats` returns counts of stored data and of handled duplicates;
 * - `POST /_sim/reset` deletes all data and clears faults and counters.
 *
 * Standalone: `npx ts-node --transpile-only registry/simulator.ts` with
 * REGISTRY_SIM_DATABASE_URL, REGISTRY_API_KEY and optionally
 * REGISTRY_SIM_PORT (default 4100) and REGISTRY_SIM_HOST (default 127.0.0.1).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Server } from 'node:http';
import { AddressInfo } from 'node:net';
import express, { NextFunction, Request, Response } from 'express';
import { Pool } from 'pg';
import type { Logger } from 'pino';
import { z } from 'zod';
import { createLogger } from '../runtime/logger';
import { loadRegistrySimulatorConfig } from './config';
import { REGISTRY_API_PREFIX } from './contract';
import { BODY_LIMIT, ProblemError, bodyReadProblem, parseInput, sendProblem } from './simulator-http';
import { ActiveFaults, FaultDraw, FaultInjector, FaultSettingsInput, faultSettingsSchema } from './simulator-faults';
import {
  AsyncHandler,
  SimulatorContext,
  SimulatorStats,
  createContractRouter,
  createControlRouter,
  zeroCounters,
} from './simulator-routes';
import { SimulatorStore, VolunteerSeed, volunteerSeedSchema } from './simulator-store';

export type { SimulatorStats } from './simulator-routes';
export type { ActiveFaults, FaultSettingsInput } from './simulator-faults';

/** A request the fault injector hangs is dropped after this long if the client has not given up first. */
const HANG_LIMIT_MS = 120_000;

export interface RegistrySimulatorOptions {
  databaseUrl: string;
  /** TCP port. 0, the default, picks a free one. */
  port?: number;
  /** Interface to listen on, 127.0.0.1 by default. */
  host?: string;
  apiKey: string;
  log?: Logger;
}

export interface RegistrySimulator {
  /** Base URL of the server, such as http://127.0.0.1:4100, to pass to createRegistryClient. */
  url: string;
  /** Closes the server, drops hanging requests and closes the database pool. */
  stop(): Promise<void>;
  /** Replaces the fault settings, setting omitted values to 0. Throws on invalid settings. */
  setFaults(faults: FaultSettingsInput): ActiveFaults;
  /** Deletes all data and clears faults and counters. */
  reset(): Promise<void>;
  /** Seeds or updates volunteers, as POST /_sim/volunteers does. */
  seedVolunteers(volunteers: z.input<typeof volunteerSeedSchema>[]): Promise<void>;
  stats(): Promise<SimulatorStats>;
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Starts the simulator; resolves once its schema exists and it listens. */
export async function startRegistrySimulator(options: RegistrySimulatorOptions): Promise<RegistrySimulator> {
  const log = options.log ?? createLogger(process.env.LOG_LEVEL ?? 'warn', 'registry-simulator');
  if (options.apiKey.length === 0) throw new Error('startRegistrySimulator: apiKey must not be empty');

  const pool = new Pool({ connectionString: options.databaseUrl, max: 4 });
  pool.on('error', (err) => log.error({ err }, 'idle database connection failed'));
  const store = new SimulatorStore(pool);
  try {
    await store.ensureSchema();
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw err;
  }

  // Handlers still running and slow-fault delays still pending, so stop() can
  // wait for the first and cancel the second before it closes the pool.
  const inFlight = new Set<Promise<void>>();
  const delayedResponses = new Map<NodeJS.Timeout, Response>();

  /**
   * Wraps an async handler so that its rejections reach the error handler
   * (express 4 ignores them) and stop() can wait for it.
   */
  function route(handler: AsyncHandler) {
    return (req: Request, res: Response, next: NextFunction) => {
      const running = handler(req, res).catch(next);
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
    };
  }

  const faults = new FaultInjector();
  const counters = zeroCounters();
  const hangingResponses = new Set<Response>();
  const expectedKeyDigest = sha256(options.apiKey);

  async function stats(): Promise<SimulatorStats> {
    return { ...(await store.counts()), ...counters };
  }

  async function reset(): Promise<void> {
    await store.truncate();
    faults.replace({});
    Object.assign(counters, zeroCounters());
  }

  function setFaults(input: unknown, where: string): ActiveFaults {
    const active = faults.replace(parseInput(faultSettingsSchema, input, where));
    log.info({ faults: active }, 'fault settings replaced');
    return active;
  }

  async function seedVolunteers(input: unknown[]): Promise<void> {
    const seeds: VolunteerSeed[] = input.map((item, index) =>
      parseInput(volunteerSeedSchema, item, `volunteers.${index}`),
    );
    await store.upsertVolunteers(seeds);
  }

  /**
   * Withholds the response when the timeout fault was drawn for this request
   * and returns whether it did. A withheld response ends when the client
   * disconnects, the simulator stops, or HANG_LIMIT_MS passes.
   */
  function withholdIfDrawn(res: Response): boolean {
    const draw = res.locals.faultDraw as FaultDraw | undefined;
    if (!draw?.hang) return false;
    counters.injectedTimeouts += 1;
    hangingResponses.add(res);
    const timer = setTimeout(() => res.destroy(), HANG_LIMIT_MS);
    res.on('close', () => {
      clearTimeout(timer);
      hangingResponses.delete(res);
    });
    return true;
  }

  /** Sends a contract response unless the timeout fault withholds it. */
  function reply(res: Response, status: number, body: unknown): void {
    if (withholdIfDrawn(res)) return;
    res.status(status).json(body);
  }

  const context: SimulatorContext = { store, faults, counters, log, route, reply, setFaults, stats, reset };

  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req, _res, next) => {
    log.debug({ method: req.method, path: req.path }, 'request');
    next();
  });

  // Every endpoint, including the control ones, requires the API key.
  app.use((req, res, next) => {
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (match === null || !timingSafeEqual(sha256(match[1]), expectedKeyDigest)) {
      sendProblem(res, 401, 'unauthorized', 'send the API key as "Authorization: Bearer <key>"');
      return;
    }
    next();
  });

  app.use((req, res, next) => {
    // req.is returns null when the request has no body and false when its type is not JSON.
    // fetch sends `content-length: 0` on a POST without body, which counts as a body there.
    const emptyBody = req.headers['content-length'] === '0';
    if (req.is('application/json') === false && !emptyBody) {
      sendProblem(res, 415, 'unsupported_media_type', 'send the body as application/json');
      return;
    }
    next();
  });
  app.use(express.json({ limit: BODY_LIMIT }));

  // Faults apply to the contract endpoints only, never to the control endpoints.
  app.use(
    REGISTRY_API_PREFIX,
    (req, res, next) => {
      const draw = faults.draw();
      res.locals.faultDraw = draw;
      if (draw.fail) {
        counters.injectedFailures += 1;
        log.debug({ method: req.method, path: req.originalUrl }, 'injected 503');
        sendProblem(res, 503, 'unavailable', 'injected failure; retry later');
        return;
      }
      if (faults.slowMs > 0) {
        // The request is handled after the delay even if the client gave up meanwhile, as a slow server would.
        const timer = setTimeout(() => {
          delayedResponses.delete(timer);
          next();
        }, faults.slowMs);
        delayedResponses.set(timer, res);
        return;
      }
      next();
    },
    createContractRouter(context),
  );

  app.use('/_sim', createControlRouter(context));

  app.use((req, res) => {
    sendProblem(res, 404, 'route_not_found', `no endpoint for ${req.method} ${req.path}`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (err instanceof ProblemError) {
      log.debug({ status: err.status, code: err.code, method: req.method, path: req.originalUrl }, 'request rejected');
      if (withholdIfDrawn(res)) return;
      sendProblem(res, err.status, err.code, err.message, err.errors);
      return;
    }
    const readError = bodyReadProblem(err);
    if (readError !== undefined) {
      const message = `${readError.field}: ${readError.detail}`;
      sendProblem(res, readError.status, readError.code, message, [{ field: readError.field, message }]);
      return;
    }
    log.error({ err, method: req.method, path: req.originalUrl }, 'request failed');
    sendProblem(res, 500, 'internal', 'the simulator failed; see its log');
  });

  const host = options.host ?? '127.0.0.1';
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port ?? 0, host, () => resolve(listening));
    listening.once('error', reject);
  }).catch(async (err: unknown) => {
    await pool.end().catch(() => undefined);
    throw err;
  });

  const address = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
  log.info({ url }, 'Volunteer Beijing simulator started');

  let stopped: Promise<void> | undefined;
  async function stop(): Promise<void> {
    stopped ??= (async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const [timer, res] of delayedResponses) {
        clearTimeout(timer);
        res.destroy();
      }
      delayedResponses.clear();
      for (const res of hangingResponses) res.destroy();
      server.closeAllConnections();
      await Promise.allSettled([...inFlight]);
      await closed;
      await pool.end();
      log.info({ url }, 'Volunteer Beijing simulator stopped');
    })();
    return stopped;
  }

  return {
    url,
    stop,
    setFaults: (input: FaultSettingsInput) => setFaults(input, 'faults'),
    reset,
    seedVolunteers,
    stats,
  };
}

async function main(): Promise<void> {
  const config = loadRegistrySimulatorConfig();
  const log = createLogger(config.logLevel, 'registry-simulator');
  const simulator = await startRegistrySimulator({
    databaseUrl: config.databaseUrl,
    port: config.port,
    host: config.host,
    apiKey: config.apiKey,
    log,
  });

  const shutdown = (signal: string) => {
    log.info({ signal }, 'stopping Volunteer Beijing simulator');
    simulator.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'failed to stop cleanly');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

if (require.main === module) {
  main().catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`Volunteer Beijing simulator failed to start: ${message}\n`);
    process.exit(1);
  });
}
