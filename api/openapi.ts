import { OpenAPIRegistry, OpenApiGeneratorV3 } from '@asteasolutions/zod-to-openapi';
import { registerCasePaths } from './openapi/cases';
import { registerCoinPaths } from './openapi/coins';
import { registerOperationPaths } from './openapi/operations';
import { registerOrderPaths } from './openapi/orders';
import { registerPeoplePaths } from './openapi/people';

/**
 * Builds the OpenAPI 3.0 description of every route createApp mounts, from
 * the same zod schemas that validate requests. Each file under api/openapi/
 * describes the routes of one concept, and test/openapi.test.ts checks the
 * result against the express router.
 */
export function buildOpenApiDocument() {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description:
      'Elders and volunteers bring tokens of a trusted upstream issuer. Staff and agents sign in at POST /v1/staff/sessions.',
  });

  registerPeoplePaths(registry);
  registerOrderPaths(registry);
  registerCoinPaths(registry);
  registerCasePaths(registry);
  registerOperationPaths(registry);

  const document = new OpenApiGeneratorV3(registry.definitions).generateDocument({
    openapi: '3.0.3',
    info: {
      title: 'Time Bank API (养老服务时间银行)',
      version: '1.0.0',
      description:
        'Errors are application/problem+json bodies with a stable code. Messages are in Simplified Chinese ' +
        'unless the Accept-Language header starts with en.',
    },
    servers: [{ url: '/' }],
  });
  dropNullableFromParameters(document);
  return document;
}

/**
 * Removes `nullable` from parameter schemas, because a query, path or header
 * value is never JSON null. zod-to-openapi 8.1 marks a schema nullable when it
 * accepts null, and z.coerce.number() accepts null as 0, so every `offset`
 * query parameter would otherwise come out nullable.
 */
function dropNullableFromParameters(document: { paths?: Record<string, object> }): void {
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem) as Array<{ parameters?: Array<{ schema?: { nullable?: boolean } }> }>) {
      for (const parameter of operation.parameters ?? []) delete parameter.schema?.nullable;
    }
  }
}
