import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPI } from 'openapi-types';
import pino from 'pino';
import { createApp } from '../api/app';
import type { AppContext } from '../api/context';
import { buildOpenApiDocument } from '../api/openapi';
import { loadConfig } from '../domain/config';
import { listRoutes } from './support/routes';

/*
 * The OpenAPI document against the express router of createApp: every
 * mounted route is documented with its method and no documented route is
 * stale. The app is built with placeholder services and never serves a
 * request, because the route table needs no database or Temporal.
 */

type OpenApiDocument = ReturnType<typeof buildOpenApiDocument>;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** POST routes that read no request body, so they document none. */
const POSTS_WITHOUT_BODY = ['POST /v1/care-homes/{id}/beds/{bedId}/vacate'];

/** A stand-in for a service that building the app must not use. Any property access throws. */
function unusedService<T>(name: string): T {
  return new Proxy(
    {},
    {
      get: (_target, property) => {
        throw new Error(`${name}.${String(property)} was used, but the route table test provides no ${name}`);
      },
    },
  ) as T;
}

function routeTableContext(): AppContext {
  return {
    config: loadConfig({}),
    logger: pino({ level: 'silent' }),
    jwtSecret: 'openapi-test-secret-0123456789abcdef',
    orm: unusedService('orm'),
    temporal: unusedService('temporal'),
    personalData: unusedService('personalData'),
  };
}

/** Converts an express route "POST /v1/orders/:id" to its OpenAPI form "POST /v1/orders/{id}". */
function toOpenApiRoute(route: string): string {
  return route.replace(/\/:([A-Za-z0-9_]+)/g, '/{$1}');
}

interface Operation {
  route: string;
  path: string;
  method: string;
  operation: NonNullable<OpenApiDocument['paths'][string]['get']>;
}

function operationsOf(document: OpenApiDocument): Operation[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    HTTP_METHODS.filter((method) => item[method] !== undefined).map((method) => ({
      route: `${method.toUpperCase()} ${path}`,
      path,
      method,
      operation: item[method]!,
    })),
  );
}

/** Collects every $ref string in `value`, with the JSON path where it occurs. */
function collectRefs(value: unknown, at = '#'): Array<{ at: string; ref: string }> {
  if (Array.isArray(value)) return value.flatMap((item, index) => collectRefs(item, `${at}/${index}`));
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, child]) =>
    key === '$ref' && typeof child === 'string' ? [{ at, ref: child }] : collectRefs(child, `${at}/${key}`),
  );
}

/** Follows a local reference such as #/components/schemas/Problem. Returns undefined when it leads nowhere. */
function resolveRef(document: OpenApiDocument, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = document;
  for (const segment of ref.slice(2).split('/')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[segment.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

const document = buildOpenApiDocument();
const operations = operationsOf(document);
const documented = operations.map((o) => o.route).sort();
const mounted = [...new Set(listRoutes(createApp(routeTableContext())).map(toOpenApiRoute))].sort();

describe('OpenAPI routes against the express router', () => {
  test('every mounted route is documented', () => {
    expect(mounted.filter((route) => !documented.includes(route))).toEqual([]);
  });

  test('every documented route is mounted', () => {
    expect(documented.filter((route) => !mounted.includes(route))).toEqual([]);
  });

  test('routes without a body are mounted POST routes', () => {
    for (const route of POSTS_WITHOUT_BODY) expect(mounted).toContain(route);
  });
});

describe('OpenAPI operations', () => {
  const posts = operations.filter((o) => o.method === 'post');

  test.each(posts.filter((o) => !POSTS_WITHOUT_BODY.includes(o.route)))('$route documents its JSON body', ({ operation }) => {
    const body = operation.requestBody as { content?: Record<string, { schema?: { $ref?: string } }> } | undefined;
    const ref = body?.content?.['application/json']?.schema?.$ref;

    expect(ref).toMatch(/^#\/components\/schemas\//);
    // Every request body schema is a zod strictObject, so the component rejects unknown fields.
    expect(resolveRef(document, ref!)).toMatchObject({ type: 'object', additionalProperties: false });
  });

  test.each(posts.filter((o) => POSTS_WITHOUT_BODY.includes(o.route)))('$route documents no body', ({ operation }) => {
    expect(operation.requestBody).toBeUndefined();
  });

  test.each(operations)('$route has a summary and a success response', ({ operation }) => {
    expect(operation.summary?.trim()).toBeTruthy();
    expect(Object.keys(operation.responses).some((status) => /^2\d\d$/.test(status))).toBe(true);
  });

  test.each(operations)('$route describes each error as a problem', ({ operation }) => {
    const errors = Object.entries(operation.responses).filter(([status]) => /^[45]\d\d$/.test(status));
    for (const [status, response] of errors) {
      expect({ status, content: (response as { content?: unknown }).content }).toEqual({
        status,
        content: { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } },
      });
    }
  });

  test.each(operations)('$route declares each path parameter', ({ path, operation }) => {
    const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]).sort();
    const declared = (operation.parameters ?? [])
      .filter((parameter) => 'in' in parameter && parameter.in === 'path')
      .map((parameter) => (parameter as { name: string }).name)
      .sort();

    expect(declared).toEqual(templated);
  });

  test.each(operations)('$route parameters are not nullable', ({ operation }) => {
    const nullable = (operation.parameters ?? []).filter((parameter) => JSON.stringify(parameter).includes('"nullable"'));

    expect(nullable).toEqual([]);
  });

  test.each(operations)('$route security matches its mount', ({ route, operation }) => {
    const needsToken = route.includes(' /v1/') && route !== 'POST /v1/staff/sessions';

    expect(operation.security).toEqual(needsToken ? [{ bearer: [] }] : []);
    if (needsToken) expect(operation.responses['401']).toBeDefined();
  });
});

describe('OpenAPI document structure', () => {
  test('declares OpenAPI 3.0', () => {
    expect(document.openapi).toMatch(/^3\.0\.\d+$/);
  });

  test('every $ref resolves', () => {
    const dangling = collectRefs(document).filter(({ ref }) => resolveRef(document, ref) === undefined);

    expect(dangling).toEqual([]);
  });

  test('every $ref points into components', () => {
    const outside = collectRefs(document).filter(({ ref }) => !/^#\/components\/[A-Za-z]+\/[^/]+$/.test(ref));

    expect(outside).toEqual([]);
  });

  test('every schema component is used', () => {
    const used = new Set(collectRefs(document).map(({ ref }) => ref));
    const unused = Object.keys(document.components?.schemas ?? {}).filter((name) => !used.has(`#/components/schemas/${name}`));

    expect(unused).toEqual([]);
  });

  test('passes swagger-parser validation', async () => {
    // validate() dereferences its argument in place, so it gets a copy.
    const copy: unknown = structuredClone(document);

    await expect(SwaggerParser.validate(copy as OpenAPI.Document)).resolves.toBeDefined();
  });
});
