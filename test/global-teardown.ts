import { rmSync } from 'node:fs';

/** Stops the Temporal dev server that global-setup started and removes its data folder. */
export default async function globalTeardown(): Promise<void> {
  const state = globalThis as { __temporalDevServer?: { stop(): Promise<void> }; __temporalDataDir?: string };
  await state.__temporalDevServer?.stop();
  if (state.__temporalDataDir) rmSync(state.__temporalDataDir, { recursive: true, force: true });
}
