import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import { ERROR_CATALOG, ErrorCode, isErrorCode } from '../domain/errors';
import { CHECK_MESSAGES_ZH } from './schemas';

export type Lang = 'zh' | 'en';

/** English only when the client asks for it first; Simplified Chinese otherwise. */
export function requestLang(req: Request): Lang {
  const header = req.headers['accept-language'];
  return typeof header === 'string' && /^\s*en\b/i.test(header) ? 'en' : 'zh';
}

/** A message in both API languages, for errors raised where the request language is not at hand. */
export interface Bilingual {
  zh: string;
  en: string;
}

export interface FieldError {
  field: string;
  message: string | Bilingual;
}

function textIn(text: string | Bilingual, lang: Lang): string {
  return typeof text === 'string' ? text : text[lang];
}

/** An error the API turns into an application/problem+json response. */
export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail?: string | Bilingual,
    readonly errors: FieldError[] = [],
  ) {
    super(detail === undefined ? code : textIn(detail, 'en'));
    this.name = 'ApiError';
  }
}

export function sendProblem(
  res: Response,
  lang: Lang,
  code: ErrorCode,
  detail?: string | Bilingual,
  errors: FieldError[] = [],
) {
  const entry = ERROR_CATALOG[code];
  if (entry.status === 401) res.set('WWW-Authenticate', 'Bearer realm="timebank"');
  const localizedErrors = errors.map((e) => ({ field: e.field, message: textIn(e.message, lang) }));
  const title = lang === 'en' ? entry.en : entry.zh;
  let localizedDetail = detail === undefined ? title : textIn(detail, lang);
  let technicalDetail: string | undefined;
  // Many workflow and ledger messages exist only in English. A Chinese reader
  // gets the catalog message as the detail, and the English text stays
  // available to developers in technicalDetail.
  if (lang === 'zh' && !/[\u4e00-\u9fff]/.test(localizedDetail)) {
    technicalDetail = localizedDetail;
    localizedDetail = title;
  }
  res
    .status(entry.status)
    .type('application/problem+json')
    .json({
      type: `urn:timebank:problem:${code.toLowerCase()}`,
      title,
      status: entry.status,
      code,
      detail: localizedDetail,
      ...(technicalDetail && technicalDetail !== title ? { technicalDetail } : {}),
      ...(localizedErrors.length > 0 ? { field: localizedErrors[0].field, errors: localizedErrors } : {}),
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
  const errors = result.error.issues.flatMap((issue) => {
    const path = [where, ...issue.path.map(String)];
    // Zod reports all unknown keys of an object in one issue on the object.
    // One error per key names each field the client has to drop.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => {
        const field = [...path, key].join('.');
        return { field, message: `${field}: ${lang === 'en' ? 'unknown field, remove it from the request' : '未知字段，请从请求中删除'}` };
      });
    }
    const field = path.join('.');
    const text = lang === 'zh' ? (CHECK_MESSAGES_ZH.get(issue.message) ?? issue.message) : issue.message;
    return [{ field, message: `${field}: ${text}` }];
  });
  const detail = errors.map((e) => e.message).join('; ');
  throw new ApiError('VALIDATION_FAILED', detail, errors);
}

/**
 * Localized field error for checks zod cannot express (for example a check
 * digit). Without `lang` the error carries both languages and the response
 * picks one.
 */
export function fieldError(code: ErrorCode, field: string, zh: string, en: string, lang?: Lang): ApiError {
  const message: Bilingual = { zh: `${field}: ${zh}`, en: `${field}: ${en}` };
  const text = lang === undefined ? message : message[lang];
  return new ApiError(code, text, [{ field, message: text }]);
}

/**
 * Maps the client errors that express and body-parser raise before a route
 * runs: an undecodable path, and a body that cannot be read, inflated or
 * parsed. Returns undefined for any other error.
 */
function requestReadError(err: unknown): ApiError | undefined {
  // Express raises a URIError with status 400 when a path parameter is not valid percent-encoding.
  if (err instanceof URIError) {
    return fieldError('VALIDATION_FAILED', 'params', '路径参数的百分号编码无效', 'a path parameter is not valid percent-encoding');
  }
  const httpError = err as { type?: string; status?: number } | undefined;
  switch (httpError?.type) {
    case 'entity.parse.failed':
      return fieldError('MALFORMED_JSON', 'body', '不是合法的 JSON 对象或数组', 'not a valid JSON object or array');
    case 'entity.too.large':
      return fieldError('PAYLOAD_TOO_LARGE', 'body', '超过 64 KiB', 'larger than 64 KiB');
    case 'charset.unsupported':
      return fieldError('UNSUPPORTED_MEDIA_TYPE', 'header.Content-Type', '字符集须为 UTF-8', 'the charset must be UTF-8');
    case 'encoding.unsupported':
      return fieldError(
        'UNSUPPORTED_MEDIA_TYPE',
        'header.Content-Encoding',
        '仅支持 gzip、deflate 或不压缩',
        'only gzip, deflate and identity are supported',
      );
    default:
      break;
  }
  // body-parser raises other unreadable bodies (for example corrupt gzip data) as plain 400 errors.
  if (httpError?.status === 400) {
    return fieldError('MALFORMED_JSON', 'body', '无法读取或解压', 'could not be read or decompressed');
  }
  return undefined;
}

/** Turns workflow update failures and body-parser errors into problem responses. */
export function problemHandler(log: (err: unknown, req: Request) => void) {
  // Express recognises an error handler by its four parameters.
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const lang = requestLang(req);
    const apiError = err instanceof ApiError ? err : requestReadError(err);
    if (apiError) {
      sendProblem(res, lang, apiError.code, apiError.detail, apiError.errors);
      return;
    }
    log(err, req);
    sendProblem(res, lang, 'INTERNAL');
  };
}

export function errorCodeOr(type: unknown, fallback: ErrorCode): ErrorCode {
  return isErrorCode(type) ? type : fallback;
}
