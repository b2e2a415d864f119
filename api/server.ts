/**
 * Runs only the HTTP API, for deployments that scale the API and the worker
 * apart (docker-compose.yml). Needs DATABASE_URL, TEMPORAL_ADDRESS and
 * TIMEBANK_JWT_SECRET.
 */
import { loadConfig } from '../domain/config';
import { createLogger } from '../runtime/logger';
import { startSystem } from '../runtime/system';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'timebank-api');
  if (!config.databaseUrl || !config.temporal.address || !config.jwt.secret) {
    throw new Error('DATABASE_URL, TEMPORAL_ADDRESS and TIMEBANK_JWT_SECRET must be set to run the API on its own');
  }
  const system = await startSystem({
    config,
    databaseUrl: config.databaseUrl,
    temporalAddress: config.temporal.address,
    jwtSecret: config.jwt.secret,
    logger,
    runWorker: false,
  });
  const stop = () => void system.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`API failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
