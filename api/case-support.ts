import { randomUUID } from 'node:crypto';
import type { Request } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure, UpdateDefinition } from '@temporalio/common';
import { listCaseEvents } from '../db/cases';
import type { ErrorCode } from '../domain/errors';
import { actorOf } from './auth';
import { AppContext } from './context';
import { ApiError, errorCodeOr, fieldError, parseInput, requestLang } from './problem';
import { idempotencyKeyHeader } from './schemas';

/** Helpers shared by the care-home application and accident claim routers. */

/** Reads the Idempotency-Key header; `required` keys raise IDEMPOTENCY_KEY_REQUIRED when missing. */
export function readIdempotencyKey(req: Request, required: true, purpose: { zh: string; en: string }): string;
export function readIdempotencyKey(req: Request, required: false): string | undefined;
export function readIdempotencyKey(req: Request, required: boolean, purpose?: { zh: string; en: string }): string | undefined {
  const raw = req.header('Idempotency-Key');
  if (raw === undefined) {
    if (required) {
      throw fieldError('IDEMPOTENCY_KEY_REQUIRED', 'header.Idempotency-Key', purpose!.zh, purpose!.en, requestLang(req));
    }
    return undefined;
  }
  return parseInput(req, idempotencyKeyHeader, raw, 'header.Idempotency-Key');
}

/**
 * Sends an update to a case workflow and returns its result. A retried request
 * with the same Idempotency-Key gets the first outcome, because Temporal keeps
 * one result per update id. Business failures keep their error code.
 */
export async function executeCaseUpdate<S, A>(
  ctx: AppContext,
  req: Request,
  target: { workflowId: string; subject: string; conflict: ErrorCode; notFound: ErrorCode },
  update: UpdateDefinition<S, [A]>,
  arg: A,
): Promise<S> {
  const actor = actorOf(req);
  const key = readIdempotencyKey(req, false);
  const updateId = key ? `${actor.id}:${update.name}:${key}` : randomUUID();
  const handle = ctx.temporal.workflow.getHandle(target.workflowId);
  try {
    return await handle.executeUpdate(update, { args: [arg], updateId });
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError && err.cause instanceof ApplicationFailure) {
      throw new ApiError(errorCodeOr(err.cause.type, target.conflict), err.cause.message);
    }
    if (err instanceof WorkflowNotFoundError || /already completed/i.test((err as Error).message ?? '')) {
      throw new ApiError(target.conflict, `${target.subject} is already finished`);
    }
    ctx.logger.error({ err, workflowId: target.workflowId }, 'case workflow update failed');
    throw new ApiError('WORKFLOW_UNAVAILABLE', `the update of ${target.subject} could not be delivered; retry`);
  }
}

/** Loads the timeline of a case or claim in its API form. */
export async function timelineView(ctx: AppContext, caseId: string) {
  const rows = await listCaseEvents(ctx.orm.em.fork(), caseId);
  return rows.map((r) => ({
    seq: r.seq,
    at: new Date(r.at).toISOString(),
    event: r.event,
    actorId: r.actor_id ?? undefined,
    onBehalfOf: r.on_behalf_of ?? undefined,
    detail: r.detail ?? undefined,
  }));
}

export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}
