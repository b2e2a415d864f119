import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { ERROR_CATALOG, ErrorCode, isErrorCode } from '../domain/errors';

export type Lang = 'zh' | 'en';

/** English only when the client asks for it first; Simplified Chinese otherwise. */
export function requestLang(req: Request): Lang {
  const header = req.headers['accept-language'];
  return typeof header === 'string' && /^\s*en\b/i.test(header) ? 'en' : 'zh';
}

export interface FieldError {
  field: string;
  message: string;
}

/** An error the API turns into an application/problem+json response. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string,
    readonly errors: FieldError[] = [],
  ) {
    super(detail ?? code);
    this.name = 'ApiError';
  }
}

export function sendProblem(res: Response, lang: Lang, code: ErrorCode, detail?: string, errors: FieldError[] = []) {
  const entry = ERROR_CATALOG[code];
  res
    .status(entry.status)
    .type('application/problem+json')
    .json({
      type: `urn:timebank:problem:${code.toLowerCase()}`,
      title: lang === 'en' ? entry.en : entry.zh,
      status: entry.status,
      code,
      detail: detail ?? (lang === 'en' ? entry.en : entry.zh),
      ...(errors.length > 0 ? { field: errors[0].field, errors } : {}),
    });
}

/**
 * Parses `value` with `schema`, raising VALIDATION_FAILED whose messages name
 * each failing field in the caller's language. `where` prefixes the field path
 * (body, query, params, header).
 */
export function parseInput<S extends z.ZodType>(req: Request, schema: S, value: unknown, where: string): z.infer<S> {
  const lang = requestLang(req);
  const locale = lang === 'en' ? z.locales.en() : z.locales.zhCN();
  const result = schema.safeParse(value, { error: locale.localeError });
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => {
    const field = [where, ...issue.path.map(String)].join('.');
    return { field, message: `${field}: ${issue.message}` };
  });
  const detail = errors.map((e) => e.message).join('; ');
  throw new ApiError('VALIDATION_FAILED', detail, errors);
}

/** Localized field error for checks zod cannot express (for example a check digit). */
export function fieldError(code: ErrorCode, field: string, zh: string, en: string, lang: Lang): ApiError {
  const message = `${field}: ${lang === 'en' ? en : zh}`;
  return new ApiError(code, message, [{ field, message }]);
}

/** Turns workflow update failures and body-parser errors into problem responses. */
export function problemHandler(log: (err: unknown, req: Request) => void) {
  // Express recognises an error handler by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const lang = requestLang(req);
    if (err instanceof ApiError) {
      sendProblem(res, lang, err.code, err.detail, err.errors);
      return;
    }
    const bodyError = err as { type?: string; status?: number };
    if (bodyError?.type === 'entity.parse.failed') {
      sendProblem(res, lang, 'MALFORMED_JSON', undefined, [{ field: 'body', message: 'body: not valid JSON' }]);
      return;
    }
    if (bodyError?.type === 'entity.too.large') {
      sendProblem(res, lang, 'VALIDATION_FAILED', 'body: larger than 64 KiB', [{ field: 'body', message: 'too large' }]);
      return;
    }
    log(err, req);
    sendProblem(res, lang, 'INTERNAL');
  };
}

export function errorCodeOr(type: unknown, fallback: ErrorCode): ErrorCode {
  return isErrorCode(type) ? type : fallback;
}
