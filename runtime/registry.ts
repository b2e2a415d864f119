import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AppConfig } from '../domain/config';
import { createRegistryClient, RegistryClient } from '../registry/client';
import { RegistrySimulator, startRegistrySimulator } from '../registry/simulator';

/** Per-request limit of Volunteer Beijing calls, in milliseconds. */
const REGISTRY_TIMEOUT_MS = 10_000;

export interface RegistryConnection {
  client: RegistryClient;
  url: string;
  apiKey: string;
  /** The in-process simulator, when no REGISTRY_URL is configured. */
  simulator?: RegistrySimulator;
  stop(): Promise<void>;
}

/**
 * Connects to Volunteer Beijing (志愿北京) at REGISTRY_URL, or, when none is
 * configured, starts its simulator on 127.0.0.1 with a fresh API key. The
 * simulator keeps its tables in a schema of its own in `databaseUrl`.
 */
export async function connectRegistry(config: AppConfig, databaseUrl: string, logger: Logger): Promise<RegistryConnection> {
  const { url, apiKey } = config.registry;
  if (url && apiKey) {
    logger.info({ registryUrl: url }, 'Volunteer Beijing configured');
    return {
      client: createRegistryClient({ baseUrl: url, apiKey, timeoutMs: REGISTRY_TIMEOUT_MS }),
      url,
      apiKey,
      stop: async () => undefined,
    };
  }
  const simulatorKey = randomBytes(24).toString('hex');
  const simulator = await startRegistrySimulator({
    databaseUrl,
    host: '127.0.0.1',
    apiKey: simulatorKey,
    log: logger.child({ component: 'registry-simulator' }),
  });
  logger.info({ registryUrl: simulator.url }, 'no REGISTRY_URL set; Volunteer Beijing simulator started');
  return {
    client: createRegistryClient({ baseUrl: simulator.url, apiKey: simulatorKey, timeoutMs: REGISTRY_TIMEOUT_MS }),
    url: simulator.url,
    apiKey: simulatorKey,
    simulator,
    stop: () => simulator.stop(),
  };
}
