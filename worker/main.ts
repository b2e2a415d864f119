/**
 * Runs only the worker, for deployments that scale the API and the worker
 * apart (docker-compose.yml). Needs DATABASE_URL and TEMPORAL_ADDRESS.
 */
import { loadConfig } from '../domain/config';
import { createLogger } from '../runtime/logger';
import { startSystem } from '../runtime/system';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.logLevel, 'timebank-worker');
  if (!config.databaseUrl || !config.temporal.address) {
    throw new Error('DATABASE_URL and TEMPORAL_ADDRESS must be set to run the worker on its own');
  }
  const system = await startSystem({
    config,
    databaseUrl: config.databaseUrl,
    temporalAddress: config.temporal.address,
    jwtSecret: config.jwt.secret ?? '',
    logger,
    runApi: false,
  });
  const stop = () => void system.stop().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((err) => {
  process.stderr.write(`Worker failed to start: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});
