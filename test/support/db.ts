import { randomBytes } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { migrate, openOrm } from '../../db/orm';
import { loadReferenceData } from '../../db/reference';

/** The PostgreSQL server tests create their databases on; the system server by default. */
export function testServerUrl(): string {
  return process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
}

export interface TestDatabase {
  url: string;
  orm: MikroORM;
  drop(): Promise<void>;
}

/** Creates a fresh database with every migration applied and reference data loaded. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `timebank_test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: testServerUrl() });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();

  const url = new URL(testServerUrl());
  url.pathname = `/${name}`;
  const orm = await openOrm(url.toString());
  await migrate(orm);
  await loadReferenceData(orm.em.fork());

  const db: TestDatabase = {
    url: url.toString(),
    orm,
    async drop() {
      await db.orm.close(true).catch(() => undefined);
      const c = new Client({ connectionString: testServerUrl() });
      await c.connect();
      await c.query(`drop database if exists ${name} with (force)`);
      await c.end();
    },
  };
  return db;
}
