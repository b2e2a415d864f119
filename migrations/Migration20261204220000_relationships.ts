import { Migration } from '@mikro-orm/migrations';

/**
 * Direct relatives (直系亲属) claimed by a person and verified by street
 * staff. Only verified relationships allow gifts and spouse-based redemption.
 */
export class Migration20261204220000_relationships extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table person_relationship (
        id uuid primary key,
        person_id uuid not null references person(id),
        relative_id uuid not null references person(id),
        kind text not null check (kind in ('parent', 'grandparent', 'child', 'grandchild', 'spouse')),
        status text not null default 'claimed' check (status in ('claimed', 'verified', 'rejected')),
        claimed_by uuid not null,
        claimed_at timestamptz not null default now(),
        reviewed_by uuid,
        reviewed_at timestamptz,
        review_note text,
        check (person_id <> relative_id),
        unique (person_id, relative_id, kind)
      );`);
    this.addSql(`create index person_relationship_relative_idx on person_relationship(relative_id);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists person_relationship;`);
  }
}
