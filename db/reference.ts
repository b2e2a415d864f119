import { EntityManager } from '@mikro-orm/postgresql';
import { beijingDistricts, SERVICE_CATEGORIES } from '../domain/reference-data';

/**
 * Loads districts, streets, service categories and the district-level ledger
 * accounts. Safe to run on every start: existing rows are updated in place.
 */
export async function loadReferenceData(em: EntityManager): Promise<{ districts: number; streets: number }> {
  const districts = beijingDistricts();
  let streets = 0;
  await em.transactional(async (tx) => {
    for (const d of districts) {
      await tx.execute(
        `insert into district (code, name) values (?, ?) on conflict (code) do update set name = excluded.name`,
        [d.code, d.name],
      );
      for (const s of d.streets) {
        await tx.execute(
          `insert into street (code, district_code, name) values (?, ?, ?)
           on conflict (code) do update set name = excluded.name, district_code = excluded.district_code`,
          [s.code, d.code, s.name],
        );
        streets += 1;
      }
      await tx.execute(
        `insert into account (id, kind, district_code) values (?, 'grant', ?), (?, 'welfare', ?)
         on conflict (id) do nothing`,
        [grantAccountId(d.code), d.code, welfareAccountId(d.code), d.code],
      );
    }
    for (const c of SERVICE_CATEGORIES) {
      await tx.execute(
        `insert into service_category (code, name_zh, name_en) values (?, ?, ?)
         on conflict (code) do update set name_zh = excluded.name_zh, name_en = excluded.name_en`,
        [c.code, c.nameZh, c.nameEn],
      );
    }
    await tx.execute(
      `insert into account (id, kind) values ('welfare:city', 'welfare'), ('care_home:city', 'care_home')
       on conflict (id) do nothing`,
    );
  });
  return { districts: districts.length, streets };
}

export function personalAccountId(personId: string): string {
  return `person:${personId}`;
}

export function grantAccountId(districtCode: string): string {
  return `grant:${districtCode}`;
}

export function welfareAccountId(districtCode: string): string {
  return `welfare:${districtCode}`;
}
