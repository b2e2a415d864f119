import { Migration } from '@mikro-orm/migrations';

/**
 * Long-running cases: care-home admission applications (公办养老机构入住) and
 * accident insurance claims (意外保险理赔), with their timeline, the public
 * care homes and beds a district maintains, the dishonesty list (失信名单)
 * and the outcome columns of follow-up calls.
 */
export class Migration20261205000000_cases extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table dishonesty_list (
        id uuid primary key,
        person_id uuid not null references person(id),
        reason text not null,
        listed_on date not null default current_date,
        listed_by uuid not null,
        removed_at timestamptz,
        created_at timestamptz not null default now()
      );`);
    this.addSql(`create unique index dishonesty_list_current_idx on dishonesty_list(person_id) where removed_at is null;`);

    this.addSql(`
      create table care_home (
        id uuid primary key,
        district_code text not null references district(code),
        name text not null,
        created_by uuid not null,
        created_at timestamptz not null default now(),
        unique (district_code, name)
      );`);

    this.addSql(`
      create table care_home_case (
        id uuid primary key,
        applicant_id uuid not null references person(id),
        district_code text not null references district(code),
        status text not null,
        applied_at timestamptz not null default now(),
        created_by uuid not null,
        acting_agent_id uuid,
        idempotency_key text not null,
        ability_level integer check (ability_level between 0 and 4),
        decision_note text,
        problems text[] not null default '{}',
        care_home_id uuid references care_home(id),
        bed_id uuid,
        state_version integer not null default 0,
        updated_at timestamptz not null default now(),
        unique (created_by, idempotency_key)
      );`);
    // One open application per person; a second one is refused until the first ends.
    this.addSql(`
      create unique index care_home_case_open_idx on care_home_case(applicant_id)
        where status not in ('admitted', 'ineligible', 'rejected', 'withdrawn');`);
    this.addSql(`create index care_home_case_queue_idx on care_home_case(district_code, status, applied_at, id);`);

    // A bed holds at most one case: the case placed in it, until staff vacate it.
    this.addSql(`
      create table care_home_bed (
        id uuid primary key,
        care_home_id uuid not null references care_home(id),
        label text not null,
        case_id uuid unique references care_home_case(id),
        created_at timestamptz not null default now(),
        unique (care_home_id, label)
      );`);

    this.addSql(`
      create table accident_claim (
        id uuid primary key,
        order_id uuid not null unique references service_order(id),
        volunteer_id uuid not null references person(id),
        district_code text not null references district(code),
        injured_at timestamptz not null,
        description text not null,
        status text not null,
        route text check (route in ('registry', 'organisation')),
        registry_status text,
        reported_at timestamptz not null default now(),
        created_by uuid not null,
        acting_agent_id uuid,
        idempotency_key text not null,
        state_version integer not null default 0,
        updated_at timestamptz not null default now(),
        unique (created_by, idempotency_key)
      );`);
    this.addSql(`create index accident_claim_status_idx on accident_claim(district_code, status, reported_at);`);

    // The timeline of a case: one row per workflow event, numbered by the workflow.
    this.addSql(`
      create table case_event (
        case_id uuid not null,
        seq integer not null check (seq >= 0),
        case_kind text not null check (case_kind in ('care_home', 'accident_claim')),
        at timestamptz not null,
        event text not null,
        actor_id uuid,
        on_behalf_of uuid,
        detail text,
        primary key (case_id, seq)
      );`);

    this.addSql(`alter table follow_up_call add column attempts integer not null default 0;`);
    this.addSql(`alter table follow_up_call add column reached boolean;`);
    this.addSql(`alter table follow_up_call add column recorded_by uuid;`);
    this.addSql(`alter table follow_up_call add column recorded_at timestamptz;`);
    this.addSql(`create index follow_up_call_open_idx on follow_up_call(district_code, status, due_at);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop index if exists follow_up_call_open_idx;`);
    this.addSql(`alter table follow_up_call drop column if exists attempts, drop column if exists reached,
                   drop column if exists recorded_by, drop column if exists recorded_at;`);
    this.addSql(`drop table if exists case_event, accident_claim, care_home_bed, care_home_case, care_home, dishonesty_list;`);
  }
}
