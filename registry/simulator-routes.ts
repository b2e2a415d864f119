/** Routers of the simulator: the registry contract and the /_sim control endpoints. */
import express, { NextFunction, Request, Response, Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { claimInputSchema, externalIdSchema, serviceRecordInputSchema, volunteerRefSchema } from './contract';
import { ProblemError, parseInput } from './simulator-http';
import { ActiveFaults, FaultDraw, FaultInjector } from './simulator-faults';
import { SimulatorStore, unsavedServiceRecord, volunteerSeedSchema } from './simulator-store';

/** Counters of the simulator since start or the last reset. */
export interface SimulatorStats {
  volunteers: number;
  records: number;
  backfilledRecords: number;
  claims: number;
  /** Writes rejected with 409 because the id was already stored with different content (records and claims). */
  duplicatesRejected: number;
  /** Writes that got a 200 response because the id was already stored with the same content (records and claims). */
  replaysAccepted: number;
  /** Record writes that got a 201 response but were dropped by the lose-record fault. */
  lostRecords: number;
  /** Requests that got a 503 response from the fail fault. */
  injectedFailures: number;
  /** Requests left without a response by the timeout fault. */
  injectedTimeouts: number;
}

export type EventCounters = Pick<
  SimulatorStats,
  'duplicatesRejected' | 'replaysAccepted' | 'lostRecords' | 'injectedFailures' | 'injectedTimeouts'
>;

export function zeroCounters(): EventCounters {
  return { duplicatesRejected: 0, replaysAccepted: 0, lostRecords: 0, injectedFailures: 0, injectedTimeouts: 0 };
}

export type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** State and helpers of one running simulator, shared by its routers. */
export interface SimulatorContext {
  store: SimulatorStore;
  faults: FaultInjector;
  /** Mutated in place, so the routers always see the current counters. */
  counters: EventCounters;
  log: Logger;
  /** Wraps an async handler so that its rejections reach the error handler and stop() can wait for it. */
  route(handler: AsyncHandler): (req: Request, res: Response, next: NextFunction) => void;
  /** Sends a contract response unless the timeout fault withholds it. */
  reply(res: Response, status: number, body: unknown): void;
  /** Validates and applies fault settings; `where` prefixes the field names in validation errors. */
  setFaults(input: unknown, where: string): ActiveFaults;
  stats(): Promise<SimulatorStats>;
  reset(): Promise<void>;
}

const advanceBodySchema = z.strictObject({
  outcome: z.enum(['approved', 'rejected']).default('approved'),
});

const volunteerSeedListSchema = z.array(volunteerSeedSchema).min(1).max(1000);

/** Creates the router of the contract endpoints, mounted under /api/v1 after the fault middleware. */
export function createContractRouter(ctx: SimulatorContext): Router {
  const api = express.Router();

  api.get(
    '/volunteers/:volunteerRef',
    ctx.route(async (req, res) => {
      const volunteerRef = parseInput(volunteerRefSchema, req.params.volunteerRef, 'params.volunteerRef');
      ctx.reply(res, 200, await ctx.store.volunteerStatus(volunteerRef));
    }),
  );

  api.get(
    '/service-records/:recordId',
    ctx.route(async (req, res) => {
      const recordId = parseInput(externalIdSchema, req.params.recordId, 'params.recordId');
      const record = await ctx.store.findServiceRecord(recordId);
      if (record === undefined) {
        throw new ProblemError(404, 'service_record_not_found', `no service record ${recordId}; back-fill it`);
      }
      ctx.reply(res, 200, record);
    }),
  );

  const writeServiceRecord = (backfilled: boolean) =>
    ctx.route(async (req, res) => {
      const recordId = parseInput(externalIdSchema, req.params.recordId, 'params.recordId');
      const input = parseInput(serviceRecordInputSchema, req.body, 'body');
      const draw = res.locals.faultDraw as FaultDraw;

      if (draw.loseRecord && (await ctx.store.findServiceRecord(recordId)) === undefined) {
        ctx.counters.lostRecords += 1;
        ctx.log.debug({ recordId }, 'injected lost record');
        ctx.reply(res, 201, unsavedServiceRecord(recordId, input, backfilled));
        return;
      }

      const result = await ctx.store.insertServiceRecord(recordId, input, backfilled);
      switch (result.outcome) {
        case 'created':
          ctx.reply(res, 201, result.value);
          return;
        case 'same':
          ctx.counters.replaysAccepted += 1;
          ctx.reply(res, 200, result.value);
          return;
        case 'conflict':
          ctx.counters.duplicatesRejected += 1;
          throw new ProblemError(
            409,
            'record_conflict',
            `service record ${recordId} already exists with a different ${result.differingFields.join(', ')}`,
          );
      }
    });

  api.put('/service-records/:recordId', writeServiceRecord(false));
  api.post('/service-records/:recordId/backfill', writeServiceRecord(true));

  api.put(
    '/claims/:claimId',
    ctx.route(async (req, res) => {
      const claimId = parseInput(externalIdSchema, req.params.claimId, 'params.claimId');
      const input = parseInput(claimInputSchema, req.body, 'body');
      const result = await ctx.store.insertClaim(claimId, input);
      switch (result.outcome) {
        case 'created':
          ctx.reply(res, 201, result.value);
          return;
        case 'same':
          ctx.counters.replaysAccepted += 1;
          ctx.reply(res, 200, result.value);
          return;
        case 'conflict':
          ctx.counters.duplicatesRejected += 1;
          throw new ProblemError(
            409,
            'claim_conflict',
            `claim ${claimId} already exists with a different ${result.differingFields.join(', ')}`,
          );
        case 'unknown_record':
          throw new ProblemError(
            422,
            'unknown_service_record',
            `no service record ${input.recordId}; back-fill it first`,
            [{ field: 'body.recordId', message: `body.recordId: no service record ${input.recordId}` }],
          );
        case 'volunteer_mismatch':
          throw new ProblemError(
            422,
            'volunteer_mismatch',
            `service record ${input.recordId} belongs to another volunteer`,
            [
              {
                field: 'body.volunteerRef',
                message: 'body.volunteerRef: differs from the volunteer of the service record',
              },
            ],
          );
      }
    }),
  );

  api.get(
    '/claims/:claimId',
    ctx.route(async (req, res) => {
      const claimId = parseInput(externalIdSchema, req.params.claimId, 'params.claimId');
      const claim = await ctx.store.claimStatus(claimId);
      if (claim === undefined) throw new ProblemError(404, 'claim_not_found', `no claim ${claimId}`);
      ctx.reply(res, 200, claim);
    }),
  );

  return api;
}

/** Creates the router of the control endpoints, mounted under /_sim. */
export function createControlRouter(ctx: SimulatorContext): Router {
  const control = express.Router();

  control.post(
    '/volunteers',
    ctx.route(async (req, res) => {
      // The body is one volunteer or an array of up to 1000.
      const seeds = Array.isArray(req.body)
        ? parseInput(volunteerSeedListSchema, req.body, 'body')
        : [parseInput(volunteerSeedSchema, req.body, 'body')];
      await ctx.store.upsertVolunteers(seeds);
      res.status(200).json({ seeded: seeds.length });
    }),
  );

  control.get('/faults', (_req, res) => {
    res.status(200).json(ctx.faults.current());
  });

  control.post('/faults', (req, res) => {
    res.status(200).json(ctx.setFaults(req.body, 'body'));
  });

  control.post(
    '/claims/:claimId/advance',
    ctx.route(async (req, res) => {
      const claimId = parseInput(externalIdSchema, req.params.claimId, 'params.claimId');
      const { outcome } = parseInput(advanceBodySchema, req.body ?? {}, 'body');
      const result = await ctx.store.advanceClaim(claimId, outcome);
      switch (result.outcome) {
        case 'not_found':
          throw new ProblemError(404, 'claim_not_found', `no claim ${claimId}`);
        case 'closed':
          throw new ProblemError(409, 'claim_closed', `claim ${claimId} is closed and has no next status`);
        case 'advanced':
          res.status(200).json(result.value);
          return;
      }
    }),
  );

  control.get(
    '/stats',
    ctx.route(async (_req, res) => {
      res.status(200).json(await ctx.stats());
    }),
  );

  control.post(
    '/reset',
    ctx.route(async (_req, res) => {
      await ctx.reset();
      res.status(204).end();
    }),
  );

  return control;
}
