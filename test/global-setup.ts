import { ensureTemporalCli, ensureTestServer } from '../scripts/tools';
import { startTemporalDevServer } from '../scripts/dev-services';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Makes the Temporal binaries available and starts one Temporal dev server
 * for the suites that drive the API end to end. Suites read the paths and the
 * address from environment variables set here.
 */
export default async function globalSetup(): Promise<void> {
  const log = (message: string) => process.stderr.write(`[test setup] ${message}\n`);
  process.env.TEMPORAL_TEST_SERVER_PATH = await ensureTestServer({ log });
  const cli = await ensureTemporalCli({ log });
  process.env.TEMPORAL_CLI_PATH = cli;
  if (!process.env.TEMPORAL_TEST_ADDRESS) {
    const dataDir = mkdtempSync(join(tmpdir(), 'timebank-temporal-'));
    const server = await startTemporalDevServer({ dataDir, log });
    process.env.TEMPORAL_TEST_ADDRESS = server.address;
    (globalThis as { __temporalDevServer?: { stop(): Promise<void> } }).__temporalDevServer = server;
    (globalThis as { __temporalDataDir?: string }).__temporalDataDir = dataDir;
  }
}
