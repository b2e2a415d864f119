/**
 * Runs only the worker, for deployments that scale the API and the worker
 * apart (docker-compose.yml). Needs DATABASE_URL and TEMPORAL_ADDRESS. Without
 * the TIMEBANK_DATA_* key variables it uses the local key file in DATA_DIR,
 * the one `npm start` creates, so it can join a locally started API.
 */
import * as path from 'node:path';
import { loadConfig } from '../domain/config';
import { withLocalDataKeys } from '../runtime/local-secrets';
import { createLogger } from '../runtime/logger';
import { startSystem } from '../runtime/system';
import { installTemporalLogger } from '../runtime/temporal-logger';

async function main(): Promise<void> {
  const config = withLocalDataKeys(loadConfig(), path.resolve(__dirname, '..', loadConfig().dataDir));
  const logger = createLogger(config.logLevel, 'timebank-worker');
  installTemporalLogger(logger);
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
