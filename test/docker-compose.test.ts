/**
 * Static checks of docker-compose.yml: the services, their wiring, and that the
 * API and worker environments are ones that loadConfig reads. No Docker is needed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { load } from 'js-yaml';
import { AppConfig, loadConfig } from '../domain/config';
import { SEARCH_ATTRIBUTE_NAMES } from '../domain/search-attributes';
import { CLI_SEARCH_ATTRIBUTE_TYPES, TIMEBANK_SEARCH_ATTRIBUTES } from '../scripts/dev-services';

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string[] | string;
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  ports?: string[];
  healthcheck?: { test: string[] | string };
}

interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const repoRoot = path.resolve(__dirname, '..');
const compose = load(readFileSync(path.join(repoRoot, 'docker-compose.yml'), 'utf8')) as ComposeFile;
const services = compose.services;

/** Values for the variables that compose interpolates from the shell or from .env. */
const shellEnv: Record<string, string> = {
  POSTGRES_PASSWORD: 'compose-test-password',
  TIMEBANK_JWT_SECRET: 'compose-test-secret-that-is-at-least-32-chars',
  TIMEBANK_DATA_KEYS: JSON.stringify({
    'compose-1': Buffer.alloc(32, 1).toString('base64'),
    'compose-2': Buffer.alloc(32, 2).toString('base64'),
  }),
  TIMEBANK_DATA_KEY_ID: 'compose-1',
  TIMEBANK_DATA_HASH_KEY: Buffer.alloc(32, 3).toString('base64'),
};

/**
 * Applies compose interpolation: `$$`, `${NAME}`, `${NAME:-default}`, `${NAME-default}`,
 * `${NAME:?message}` and `${NAME?message}`. Throws for a required variable that is unset.
 */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (match, name, colon, operator, operand) => {
    if (match === '$$') return '$';
    const current = vars[name as string];
    const missing = current === undefined || (colon === ':' && current === '');
    if (!missing) return current as string;
    if (operator === '?') throw new Error(`required variable ${name} is not set: ${operand}`);
    if (operator === '-') return operand as string;
    return '';
  });
}

/** Returns the service's environment as compose would pass it, after interpolation. */
function resolvedEnv(serviceName: string, vars: Record<string, string> = shellEnv): Record<string, string> {
  const environment = services[serviceName]?.environment ?? {};
  const result: Record<string, string> = {};
  for (const [name, value] of Object.entries(environment)) {
    result[name] = interpolate(String(value ?? ''), vars);
  }
  return result;
}

interface PortMapping {
  hostIp?: string;
  hostPort: string;
  containerPort: string;
}

function parsePort(spec: string): PortMapping {
  const parts = interpolate(spec, shellEnv).split(':');
  if (parts.length === 3) return { hostIp: parts[0], hostPort: parts[1], containerPort: parts[2] };
  if (parts.length === 2) return { hostPort: parts[0], containerPort: parts[1] };
  throw new Error(`unsupported port syntax "${spec}"; use HOST:CONTAINER or IP:HOST:CONTAINER`);
}

function commandOf(service: ComposeService): string[] {
  const command = service.command;
  return typeof command === 'string' ? command.split(/\s+/) : (command ?? []);
}

/**
 * How each variable that the API or the worker receives shows up in AppConfig,
 * with a valid sample value that differs from the default. The test sets the sample
 * and expects to read it back, which proves that loadConfig reads the variable.
 */
const CONFIG_READERS: Record<string, { read: (config: AppConfig) => unknown; sample: string; expected?: unknown }> = {
  DATABASE_URL: { read: (c) => c.databaseUrl, sample: 'postgres://sample:pw@db.example:5432/sample' },
  TEMPORAL_ADDRESS: { read: (c) => c.temporal.address, sample: 'sample-temporal:7233' },
  TEMPORAL_NAMESPACE: { read: (c) => c.temporal.namespace, sample: 'sample-namespace' },
  TEMPORAL_TASK_QUEUE: { read: (c) => c.temporal.taskQueue, sample: 'sample-queue' },
  TIMEBANK_JWT_SECRET: { read: (c) => c.jwt.secret, sample: 'sample-secret-sample-secret-sample-secret' },
  API_PORT: { read: (c) => c.api.port, sample: '4321', expected: 4321 },
  API_HOST: { read: (c) => c.api.host, sample: '192.0.2.10' },
  LOG_LEVEL: { read: (c) => c.logLevel, sample: 'warn' },
  TIMEBANK_DATA_KEYS: {
    read: (c) => [...(c.dataProtection?.keys.keys() ?? [])],
    sample: JSON.stringify({ 'compose-1': Buffer.alloc(32, 4).toString('base64'), sample: Buffer.alloc(32, 5).toString('base64') }),
    expected: ['compose-1', 'sample'],
  },
  TIMEBANK_DATA_KEY_ID: { read: (c) => c.dataProtection?.currentKeyId, sample: 'compose-2' },
  TIMEBANK_DATA_HASH_KEY: {
    read: (c) => c.dataProtection?.hashKey.toString('base64'),
    sample: Buffer.alloc(48, 6).toString('base64'),
  },
};

const APP_SERVICES = ['api', 'worker'] as const;

describe('docker-compose.yml', () => {
  test('defines every service of the stack', () => {
    expect(Object.keys(services).sort()).toEqual(
      ['api', 'postgresql', 'temporal', 'temporal-search-attributes', 'temporal-ui', 'worker'].sort(),
    );
    expect(services.postgresql?.image).toBe('postgres:16');
    expect(services.temporal?.image).toMatch(/^temporalio\/auto-setup:\d+\.\d+\.\d+$/);
    expect(services['temporal-search-attributes']?.image).toMatch(/^temporalio\/admin-tools:\d+\.\d+\.\d+/);
    expect(services['temporal-ui']?.image).toMatch(/^temporalio\/ui:\d+\.\d+\.\d+$/);
  });

  test('pins matching Temporal server and admin-tools versions', () => {
    const serverVersion = services.temporal?.image?.split(':')[1];
    const adminToolsTag = services['temporal-search-attributes']?.image?.split(':')[1];
    expect(adminToolsTag?.startsWith(`${serverVersion}-`) || adminToolsTag === serverVersion).toBe(true);
  });

  test('api and worker build from the Dockerfile', () => {
    const dockerfile = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM node:20-slim\b/m);
    expect(existsSync(path.join(repoRoot, '.dockerignore'))).toBe(true);
    for (const name of APP_SERVICES) {
      expect(services[name]?.build).toBe('.');
    }
    expect(commandOf(services.api!)).toEqual(['node', 'dist/api/server.js']);
    expect(commandOf(services.worker!)).toEqual(['node', 'dist/worker/main.js']);
  });

  test.each(APP_SERVICES)('%s waits for healthy postgresql and temporal', (name) => {
    const dependsOn = services[name]?.depends_on ?? {};
    expect(dependsOn.postgresql?.condition).toBe('service_healthy');
    expect(dependsOn.temporal?.condition).toBe('service_healthy');
    expect(dependsOn['temporal-search-attributes']?.condition).toBe('service_completed_successfully');
  });

  test('healthy conditions have healthchecks', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(dependency);
        if (condition === 'service_healthy') {
          expect({ service: name, dependency, healthcheck: services[dependency]?.healthcheck?.test }).toEqual({
            service: name,
            dependency,
            healthcheck: expect.anything(),
          });
        }
      }
    }
  });

  test('api and worker share DATABASE_URL and TEMPORAL_ADDRESS', () => {
    const api = resolvedEnv('api');
    const worker = resolvedEnv('worker');
    expect(worker.DATABASE_URL).toBe(api.DATABASE_URL);
    expect(worker.TEMPORAL_ADDRESS).toBe(api.TEMPORAL_ADDRESS);
    expect(worker.TEMPORAL_NAMESPACE).toBe(api.TEMPORAL_NAMESPACE);
    expect(worker.TEMPORAL_TASK_QUEUE).toBe(api.TEMPORAL_TASK_QUEUE);
  });

  test('DATABASE_URL points at the postgresql service', () => {
    const url = new URL(resolvedEnv('api').DATABASE_URL ?? '');
    const postgres = resolvedEnv('postgresql');
    expect(url.protocol).toBe('postgres:');
    expect(url.hostname).toBe('postgresql');
    expect(url.port).toBe('5432');
    expect(url.pathname).toBe(`/${postgres.POSTGRES_DB}`);
    expect(url.username).toBe(postgres.POSTGRES_USER);
    expect(decodeURIComponent(url.password)).toBe(postgres.POSTGRES_PASSWORD);
  });

  test('TEMPORAL_ADDRESS points at the temporal service', () => {
    for (const name of [...APP_SERVICES, 'temporal-search-attributes', 'temporal-ui']) {
      expect({ service: name, address: resolvedEnv(name).TEMPORAL_ADDRESS }).toEqual({
        service: name,
        address: 'temporal:7233',
      });
    }
  });

  test('temporal persists to the postgresql service', () => {
    const temporal = resolvedEnv('temporal');
    const postgres = resolvedEnv('postgresql');
    expect(temporal.DB).toBe('postgres12');
    expect(temporal.POSTGRES_SEEDS).toBe('postgresql');
    expect(temporal.DB_PORT).toBe('5432');
    expect(temporal.POSTGRES_USER).toBe(postgres.POSTGRES_USER);
    expect(temporal.POSTGRES_PWD).toBe(postgres.POSTGRES_PASSWORD);
    expect(temporal.DEFAULT_NAMESPACE).toBe(resolvedEnv('api').TEMPORAL_NAMESPACE);
  });

  test.each(APP_SERVICES)('%s sets only variables that loadConfig reads', (name) => {
    const env = resolvedEnv(name);
    for (const variable of Object.keys(env)) {
      expect({ variable, readByLoadConfig: variable in CONFIG_READERS }).toEqual({ variable, readByLoadConfig: true });
      const reader = CONFIG_READERS[variable]!;
      const config = loadConfig({ ...env, [variable]: reader.sample });
      expect({ variable, value: reader.read(config) }).toEqual({ variable, value: reader.expected ?? reader.sample });
    }
  });

  test.each(APP_SERVICES)('loadConfig accepts the %s environment', (name) => {
    const env = resolvedEnv(name);
    const config = loadConfig(env);
    expect(config.databaseUrl).toBe(env.DATABASE_URL);
    expect(config.temporal.address).toBe(env.TEMPORAL_ADDRESS);
    expect(config.temporal.namespace).toBe(env.TEMPORAL_NAMESPACE);
    expect(config.temporal.taskQueue).toBe(env.TEMPORAL_TASK_QUEUE);
  });

  test('api listens on all interfaces with a JWT secret', () => {
    const config = loadConfig(resolvedEnv('api'));
    expect(config.api.host).toBe('0.0.0.0');
    expect(config.jwt.secret).toBe(shellEnv.TIMEBANK_JWT_SECRET);
  });

  test('secrets have no defaults', () => {
    expect(() => resolvedEnv('api', { TIMEBANK_JWT_SECRET: shellEnv.TIMEBANK_JWT_SECRET! })).toThrow(/POSTGRES_PASSWORD/);
    expect(() => resolvedEnv('api', { ...shellEnv, TIMEBANK_JWT_SECRET: '' })).toThrow(/TIMEBANK_JWT_SECRET/);
    expect(() => resolvedEnv('worker', { ...shellEnv, TIMEBANK_DATA_KEYS: '' })).toThrow(/TIMEBANK_DATA_KEYS/);
    expect(() => resolvedEnv('worker', { ...shellEnv, TIMEBANK_DATA_KEY_ID: '' })).toThrow(/TIMEBANK_DATA_KEY_ID/);
    expect(() => resolvedEnv('worker', { ...shellEnv, TIMEBANK_DATA_HASH_KEY: '' })).toThrow(/TIMEBANK_DATA_HASH_KEY/);
    expect(() => resolvedEnv('postgresql', {})).toThrow(/POSTGRES_PASSWORD/);
    expect(() => resolvedEnv('temporal', {})).toThrow(/POSTGRES_PASSWORD/);
  });

  test('api publishes API_PORT and probes /healthz on it', () => {
    const apiPort = resolvedEnv('api').API_PORT;
    const ports = (services.api?.ports ?? []).map(parsePort);
    expect(ports).toHaveLength(1);
    expect(ports[0]?.containerPort).toBe(apiPort);
    expect(ports[0]?.hostPort).toBe('3000');

    const probe = services.api?.healthcheck?.test;
    const probeText = Array.isArray(probe) ? probe.join(' ') : (probe ?? '');
    expect(probeText).toContain('process.env.API_PORT');
    expect(probeText).toContain('/healthz');
  });

  test('only api published beyond loopback', () => {
    expect(services.worker?.ports).toBeUndefined();
    expect(services.postgresql?.ports).toBeUndefined();
    expect((services.temporal?.ports ?? []).map(parsePort)).toEqual([
      { hostIp: '127.0.0.1', hostPort: '7233', containerPort: '7233' },
    ]);
    expect((services['temporal-ui']?.ports ?? []).map(parsePort)).toEqual([
      { hostIp: '127.0.0.1', hostPort: '8080', containerPort: '8080' },
    ]);
  });

  test('search attributes match dev server', () => {
    const pairs = (resolvedEnv('temporal-search-attributes').SEARCH_ATTRIBUTES ?? '').split(/\s+/).filter(Boolean);
    const expected = Object.entries(TIMEBANK_SEARCH_ATTRIBUTES).map(([name, type]) => `${name}=${CLI_SEARCH_ATTRIBUTE_TYPES[type]}`);
    expect(pairs.sort()).toEqual(expected.sort());
    expect(Object.keys(TIMEBANK_SEARCH_ATTRIBUTES).sort()).toEqual([...SEARCH_ATTRIBUTE_NAMES].sort());
    expect(resolvedEnv('temporal-search-attributes').TEMPORAL_NAMESPACE).toBe(resolvedEnv('api').TEMPORAL_NAMESPACE);
  });

  test('declares the postgres data volume', () => {
    expect(Object.keys(compose.volumes ?? {})).toContain('postgres-data');
  });
});
