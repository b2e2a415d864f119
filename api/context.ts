import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AppConfig } from '../domain/config';

/** What every route handler needs: the database, the Temporal client, configuration and the logger. */
export interface AppContext {
  orm: MikroORM;
  temporal: Client;
  config: AppConfig;
  logger: Logger;
  jwtSecret: string;
}

/** Wraps an async handler so a rejected promise reaches the error handler. */
export function route(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
}
