import { MikroORM, Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { allEntities } from './entities';
import { Migration20261204000000_initial } from '../migrations/Migration20261204000000_initial';
import { Migration20261204200000_reservation_post_request } from '../migrations/Migration20261204200000_reservation_post_request';
import { Migration20261204210000_reconciliation } from '../migrations/Migration20261204210000_reconciliation';
import { Migration20261204220000_relationships } from '../migrations/Migration20261204220000_relationships';
import { Migration20261205000000_cases } from '../migrations/Migration20261205000000_cases';
import { Migration20261206000000_personal_data } from '../migrations/Migration20261206000000_personal_data';

/** Every migration in order; listed by hand so compiled and ts-node runs agree. */
const migrationsList = [
  { name: 'Migration20261204000000_initial', class: Migration20261204000000_initial },
  { name: 'Migration20261204200000_reservation_post_request', class: Migration20261204200000_reservation_post_request },
  { name: 'Migration20261204210000_reconciliation', class: Migration20261204210000_reconciliation },
  { name: 'Migration20261204220000_relationships', class: Migration20261204220000_relationships },
  { name: 'Migration20261205000000_cases', class: Migration20261205000000_cases },
  { name: 'Migration20261206000000_personal_data', class: Migration20261206000000_personal_data },
];

export function ormOptions(databaseUrl: string, poolMax = 10): Options {
  return {
    clientUrl: databaseUrl,
    entities: allEntities,
    extensions: [Migrator],
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: poolMax },
    // Bigint columns stay strings: minute counts must never pass through floats.
    forceUtcTimezone: true,
    migrations: { migrationsList, transactional: true, allOrNothing: true, snapshot: false, silent: true },
    debug: false,
  };
}

export async function openOrm(databaseUrl: string, poolMax?: number): Promise<MikroORM> {
  return MikroORM.init(ormOptions(databaseUrl, poolMax));
}

/** Applies pending migrations; returns the names it applied. */
export async function migrate(orm: MikroORM): Promise<string[]> {
  const migrator = orm.getMigrator();
  const applied = await migrator.up();
  return applied.map((m) => m.name);
}
