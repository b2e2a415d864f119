import { Migration } from '@mikro-orm/migrations';

/**
 * Personal data protection, registration rules, institutions and staff
 * sign-in:
 * - resident ID and phone numbers move to AES-256-GCM ciphertext columns with
 *   their key id and an HMAC lookup hash (unique for ID numbers);
 * - an append-only access log of staff reads of personal data;
 * - student volunteers' guardians, booked on the orders they accompany, and
 *   organisation-confirmed insurance;
 * - institution agents with consents of the people they act for;
 * - staff logins with password hashes and a record of failed sign-ins.
 *
 * Encryption needs the configured keys, which a migration does not have, so
 * existing plain-text values move to the *_plain columns here and the
 * startup step sealLegacyPersonalData (db/persons.ts) seals them before the
 * API or the worker starts.
 */
export class Migration20261206000000_personal_data extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table person rename column resident_id to resident_id_plain;`);
    this.addSql(`alter table person alter column resident_id_plain drop not null;`);
    this.addSql(`alter table person rename column phone to phone_plain;`);
    this.addSql(`alter table person alter column phone_plain drop not null;`);
    this.addSql(`
      alter table person
        add column resident_id_cipher bytea,
        add column resident_id_key_id text,
        add column resident_id_hash text,
        add column phone_cipher bytea,
        add column phone_key_id text,
        add column phone_hash text,
        add column guardian_id uuid references person(id),
        add column insurance_confirmed_by text,
        add column insurance_confirmed_on date,
        add column registered_by uuid;`);
    // Each value is either still plain (until the startup step seals it) or
    // fully sealed: ciphertext, key id and lookup hash together.
    this.addSql(`
      alter table person add constraint person_resident_id_sealed check (
        (resident_id_plain is null and resident_id_cipher is not null and resident_id_key_id is not null
          and resident_id_hash is not null)
        or (resident_id_plain is not null and resident_id_cipher is null and resident_id_key_id is null
          and resident_id_hash is null));`);
    this.addSql(`
      alter table person add constraint person_phone_sealed check (
        (phone_plain is null and phone_cipher is not null and phone_key_id is not null and phone_hash is not null)
        or (phone_plain is not null and phone_cipher is null and phone_key_id is null and phone_hash is null));`);
    // One person per resident ID number: the lookup hash is unique like the number.
    this.addSql(`create unique index person_resident_id_hash_key on person(resident_id_hash);`);
    this.addSql(`create index person_phone_hash_idx on person(phone_hash);`);
    this.addSql(`alter table person add constraint person_guardian_not_self check (guardian_id <> id);`);
    this.addSql(`create index person_guardian_idx on person(guardian_id) where guardian_id is not null;`);
    // Rows registered before this migration have no confirming organisation
    // on record, so the rule applies to new and changed rows only (not valid).
    this.addSql(`
      alter table person add constraint person_insurance_confirmed check (
        insurance <> 'organisation' or (insurance_confirmed_by is not null and insurance_confirmed_on is not null)) not valid;`);

    // A student serves only with their guardian, whose time the order books
    // too: the guardian gets a slot of role 'guardian' on the same order, so
    // the exclusion constraint on volunteer_slot also keeps the guardian from
    // holding two overlapping orders, served or accompanied.
    this.addSql(`
      alter table volunteer_slot
        add column role text not null default 'volunteer' check (role in ('volunteer', 'guardian'));`);
    this.addSql(`alter table volunteer_slot drop constraint volunteer_slot_pkey;`);
    this.addSql(`alter table volunteer_slot add primary key (order_id, volunteer_id);`);
    this.addSql(`create unique index volunteer_slot_order_volunteer_idx on volunteer_slot(order_id) where role = 'volunteer';`);

    this.addSql(`
      create table personal_data_access_log (
        id bigserial primary key,
        at timestamptz not null default now(),
        actor_id uuid not null,
        actor_role text not null,
        actor_district_code text,
        person_id uuid not null references person(id),
        action text not null check (action in ('view', 'reveal')),
        fields text[] not null check (cardinality(fields) > 0),
        reason text,
        check (action <> 'reveal' or reason is not null)
      );`);
    this.addSql(`create index personal_data_access_log_person_idx on personal_data_access_log(person_id, at desc);`);
    this.addSql(`create index personal_data_access_log_actor_idx on personal_data_access_log(actor_id, at desc);`);
    this.addSql(`create index personal_data_access_log_at_idx on personal_data_access_log(at desc);`);
    this.addSql(`
      create function access_log_refuse_change() returns trigger language plpgsql as $$
      begin
        raise exception 'personal_data_access_log is append-only; rows are never changed or removed'
          using errcode = 'P0001';
      end $$;`);
    this.addSql(`create trigger personal_data_access_log_append_only before update or delete on personal_data_access_log
                   for each row execute function access_log_refuse_change();`);
    this.addSql(`create trigger personal_data_access_log_no_truncate before truncate on personal_data_access_log
                   for each statement execute function access_log_refuse_change();`);

    this.addSql(`alter table institution add column confirmed_by uuid;`);

    // Agents are staff accounts of an institution; they sign in like staff.
    this.addSql(`alter table staff drop constraint staff_role_check;`);
    this.addSql(`
      alter table staff
        add constraint staff_role_check
          check (role in ('street_reviewer', 'district_officer', 'city_admin', 'operator', 'agent')),
        add constraint staff_agent_institution check (role <> 'agent' or institution_id is not null),
        add column login text unique check (login ~ '^[a-z0-9._-]{3,64}$'),
        add column password_hash text,
        add column disabled_at timestamptz,
        add column created_by uuid,
        add check (login is null or password_hash is not null);`);

    this.addSql(`
      create table agent_consent (
        id uuid primary key,
        person_id uuid not null references person(id),
        institution_id uuid not null references institution(id),
        granted_by uuid not null,
        granted_by_role text not null,
        granted_at timestamptz not null default now(),
        revoked_by uuid,
        revoked_at timestamptz,
        check ((revoked_at is null) = (revoked_by is null))
      );`);
    this.addSql(`
      create unique index agent_consent_active_idx on agent_consent(person_id, institution_id)
        where revoked_at is null;`);

    this.addSql(`
      create table staff_sign_in_failure (
        id bigserial primary key,
        login text not null,
        ip text not null,
        at timestamptz not null default now()
      );`);
    this.addSql(`create index staff_sign_in_failure_login_idx on staff_sign_in_failure(login, at);`);
    this.addSql(`create index staff_sign_in_failure_ip_idx on staff_sign_in_failure(ip, at);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists staff_sign_in_failure, agent_consent, personal_data_access_log;`);
    this.addSql(`delete from volunteer_slot where role = 'guardian';`);
    this.addSql(`drop index volunteer_slot_order_volunteer_idx;`);
    this.addSql(`alter table volunteer_slot drop constraint volunteer_slot_pkey, drop column role;`);
    this.addSql(`alter table volunteer_slot add primary key (order_id);`);
    this.addSql(`drop function if exists access_log_refuse_change;`);
    this.addSql(`
      alter table staff drop constraint staff_agent_institution, drop column login, drop column password_hash,
        drop column disabled_at, drop column created_by;`);
    this.addSql(`alter table staff drop constraint staff_role_check;`);
    this.addSql(`
      alter table staff add constraint staff_role_check
        check (role in ('street_reviewer', 'district_officer', 'city_admin', 'operator'));`);
    this.addSql(`alter table institution drop column confirmed_by;`);
    // NOTE: down cannot decrypt, so it fails on rows sealed after the up migration.
    this.addSql(`
      alter table person drop constraint person_resident_id_sealed, drop constraint person_phone_sealed,
        drop constraint person_guardian_not_self, drop constraint person_insurance_confirmed,
        drop column resident_id_cipher, drop column resident_id_key_id, drop column resident_id_hash,
        drop column phone_cipher, drop column phone_key_id, drop column phone_hash, drop column guardian_id,
        drop column insurance_confirmed_by, drop column insurance_confirmed_on, drop column registered_by;`);
    this.addSql(`alter table person alter column resident_id_plain set not null;`);
    this.addSql(`alter table person rename column resident_id_plain to resident_id;`);
    this.addSql(`alter table person alter column phone_plain set not null;`);
    this.addSql(`alter table person rename column phone_plain to phone;`);
  }
}
