import type { Client } from '@temporalio/client';

export interface PersonalDataScan {
  ok: boolean;
  responses: number;
  logLines: number;
  histories: number;
  /** Places where a full ID or phone number appeared, at most five. */
  problems: string[];
}

/** Turns every byte field of a protobuf message (payload data) into text, so the scan reads payloads as JSON. */
function decodeBytes(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (Array.isArray(value)) return value.map(decodeBytes);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, decodeBytes(inner)]));
  }
  return value;
}

/**
 * Searches the demo's API responses, the service's log lines and the
 * histories of the demo's workflows for any full resident ID or phone number of the demo
 * population. Masked values (110***********1234) do not match.
 */
export async function scanPersonalData(input: {
  secrets: readonly string[];
  responses: readonly string[];
  logLines: readonly string[];
  temporal: Client;
  workflowIds: readonly string[];
}): Promise<PersonalDataScan> {
  const problems: string[] = [];
  const findLeak = (text: string) => input.secrets.find((secret) => text.includes(secret));
  const check = (label: string, text: string) => {
    if (problems.length >= 5) return;
    const leaked = findLeak(text);
    if (leaked) problems.push(`${label} contains an unmasked value ending in ${leaked.slice(-4)}`);
  };

  // A scan that cannot see a planted value would pass for the wrong reason.
  if (input.secrets.length === 0 || !findLeak(`{"planted":"${input.secrets[0]}"}`)) {
    problems.push('the scanner missed a planted value, so its other results prove nothing');
  }

  input.responses.forEach((text, index) => check(`API response #${index + 1}`, text));
  input.logLines.forEach((line, index) => check(`log line #${index + 1}`, line));
  for (const workflowId of input.workflowIds) {
    const history = await input.temporal.workflow.getHandle(workflowId).fetchHistory();
    check(`history of workflow ${workflowId}`, JSON.stringify(decodeBytes(history)));
  }
  return {
    ok: problems.length === 0,
    responses: input.responses.length,
    logLines: input.logLines.length,
    histories: input.workflowIds.length,
    problems,
  };
}
