import type { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from '@temporalio/client';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import type { AppConfig } from '../domain/config';
import type { PersonalDataCipher } from '../runtime/personal-data';

/**
 * What every route handler needs: the database, the Temporal client,
 * configuration, the logger, the local token secret and the cipher of
 * personal data.
 */
export interface AppContext {
  orm: MikroORM;
  temporal: Client;
  config: AppConfig;
  logger: Logger;
  jwtSecret: string;
  personalData: PersonalDataCipher;
}

/** Wraps an async handler so a rejected promise reaches the error handler. */
export function route(fn: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    fn(req, res).catch(next);
  };
}
