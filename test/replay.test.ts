import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { temporal } from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowBundle } from './support/order-env';

/*
 * Replays recorded histories of finished workflows against the current
 * workflow code. A change that would break open executions (a new command,
 * a reordered activity, a removed timer) fails here instead of in production.
 * Record new histories with: RECORD_HISTORIES=1 npx jest test/order-workflow.test.ts
 */
const dir = join(__dirname, 'histories');
const files = readdirSync(dir).filter((f) => f.endsWith('.pb')).sort();

test('histories are recorded', () => {
  expect(files.length).toBeGreaterThanOrEqual(8);
});

test.each(files)('replays %s', async (file) => {
  const history = temporal.api.history.v1.History.decode(readFileSync(join(dir, file)));
  expect(history.events.length).toBeGreaterThan(5);
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file.replace(/\.pb$/, ''));
});
