import express, { Express } from 'express';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';
import { accountsRouter } from './accounts';
import { relativesRouter } from './relatives';
import { transfersRouter } from './transfers';
import { authenticate } from './auth';
import { casesRouter } from './cases';
import { claimsRouter } from './claims';
import { AppContext } from './context';
import { followUpCallsRouter } from './follow-up-calls';
import { institutionsRouter } from './institutions';
import { staffSessionsRouter } from './staff-sessions';
import { buildOpenApiDocument } from './openapi';
import { opsRouter } from './ops';
import { ordersRouter } from './orders';
import { personsRouter } from './persons';
import { ApiError, problemHandler } from './problem';
import { referenceRouter } from './reference';

/** Builds the express application: JSON bodies, bearer auth on /v1, problem+json errors, metrics. */
export function createApp(ctx: AppContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics });
  const latency = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency in seconds by method, route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [metrics],
  });
  app.use((req, res, next) => {
    const end = latency.startTimer();
    res.on('finish', () => {
      end({ method: req.method, route: req.route?.path ?? 'unmatched', status: String(res.statusCode) });
    });
    next();
  });

  const openApi = buildOpenApiDocument();
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(metrics.contentType).send(await metrics.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openApi);
  });

  app.use(express.json({ limit: '64kb', strict: true, type: ['application/json', 'application/*+json'] }));
  const v1 = express.Router();
  // Staff sign-in is the one /v1 route that needs no bearer token.
  v1.use(staffSessionsRouter(ctx));
  v1.use(authenticate(ctx));
  v1.use(personsRouter(ctx));
  v1.use(institutionsRouter(ctx));
  v1.use(ordersRouter(ctx));
  v1.use(casesRouter(ctx));
  v1.use(claimsRouter(ctx));
  v1.use(followUpCallsRouter(ctx));
  v1.use(accountsRouter(ctx));
  v1.use(transfersRouter(ctx));
  v1.use(relativesRouter(ctx));
  v1.use(opsRouter(ctx));
  v1.use(referenceRouter(ctx));
  app.use('/v1', v1);

  app.use((req, _res, next) => next(new ApiError('NOT_FOUND', `no route ${req.method} ${req.path}`)));
  app.use(
    problemHandler((err, req) => {
      ctx.logger.error({ err, method: req.method, path: req.path }, 'request failed');
    }),
  );
  return app;
}
