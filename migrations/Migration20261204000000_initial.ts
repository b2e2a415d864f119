import { Migration } from '@mikro-orm/migrations';

/**
 * Initial schema: reference data, people, the order read model, follow-up
 * calls, notifications and the coin ledger. Ledger rules that must hold even
 * against hand-written SQL are enforced here by constraints and triggers.
 */
export class Migration20261204000000_initial extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create extension if not exists btree_gist;`);

    this.addSql(`
      create table district (
        code text primary key check (code ~ '^[0-9]{6}$'),
        name text not null
      );`);
    this.addSql(`
      create table street (
        code text primary key check (code ~ '^[0-9]{9}$'),
        district_code text not null references district(code),
        name text not null
      );`);
    this.addSql(`create index street_district_idx on street(district_code);`);
    this.addSql(`
      create table service_category (
        code text primary key,
        name_zh text not null,
        name_en text not null
      );`);

    // NOTE: resident_id and phone are stored in plain text until the personal
    // data layer encrypts them; responses and logs already mask them.
    this.addSql(`
      create table person (
        id uuid primary key,
        resident_id text not null unique,
        name text not null,
        phone text not null,
        birth_date date not null,
        district_code text not null references district(code),
        street_code text not null references street(code),
        address text not null,
        is_elder boolean not null default false,
        is_volunteer boolean not null default false,
        volunteer_status text not null default 'active' check (volunteer_status in ('active', 'suspended', 'revoked')),
        insurance text not null default 'none' check (insurance in ('registry', 'organisation', 'none')),
        trained_on date,
        served_minutes bigint not null default 0 check (served_minutes >= 0),
        created_at timestamptz not null default now()
      );`);

    this.addSql(`
      create table institution (
        id uuid primary key,
        name text not null,
        district_code text not null references district(code),
        street_code text not null references street(code),
        confirmed_at timestamptz not null default now()
      );`);

    this.addSql(`
      create table staff (
        id uuid primary key,
        name text not null,
        role text not null check (role in ('street_reviewer', 'district_officer', 'city_admin', 'operator')),
        district_code text references district(code),
        institution_id uuid references institution(id),
        created_at timestamptz not null default now(),
        check (role in ('city_admin', 'operator') or district_code is not null)
      );`);

    this.addSql(`
      create table service_order (
        id uuid primary key,
        elder_id uuid not null references person(id),
        district_code text not null references district(code),
        street_code text not null references street(code),
        category text not null references service_category(code),
        description text not null,
        address text not null,
        scheduled_start timestamptz not null,
        booked_minutes integer not null check (booked_minutes > 0),
        status text not null,
        cancel_reason text,
        volunteer_id uuid references person(id),
        reviewer_id uuid,
        review_note text,
        signed_in_at timestamptz,
        signed_out_at timestamptz,
        served_minutes integer check (served_minutes >= 0),
        settled_minutes integer check (settled_minutes >= 0),
        rating integer check (rating between 1 and 5),
        rating_comment text,
        disputed boolean not null default false,
        flags text[] not null default '{}',
        created_by uuid not null,
        acting_agent_id uuid,
        idempotency_key text not null,
        request_hash text not null,
        state_version integer not null default 0,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        unique (created_by, idempotency_key)
      );`);
    this.addSql(`create index service_order_status_idx on service_order(status, district_code, scheduled_start);`);
    this.addSql(`create index service_order_elder_idx on service_order(elder_id, created_at desc);`);
    this.addSql(`create index service_order_volunteer_idx on service_order(volunteer_id, scheduled_start);`);

    // A volunteer's slot on an order. The exclusion constraint makes the
    // database refuse two overlapping slots for one volunteer, so concurrent
    // acceptances of different orders cannot both succeed.
    this.addSql(`
      create table volunteer_slot (
        order_id uuid primary key references service_order(id),
        volunteer_id uuid not null references person(id),
        slot tstzrange not null,
        exclude using gist (volunteer_id with =, slot with &&)
      );`);

    this.addSql(`
      create table follow_up_call (
        id uuid primary key,
        subject_kind text not null check (subject_kind in ('order', 'case', 'claim')),
        subject_id uuid not null,
        reason text not null,
        district_code text not null references district(code),
        institution_id uuid references institution(id),
        due_at timestamptz not null,
        status text not null default 'open' check (status in ('open', 'done')),
        outcome text,
        created_at timestamptz not null default now(),
        unique (subject_kind, subject_id, reason)
      );`);

    this.addSql(`
      create table notification (
        id bigserial primary key,
        kind text not null,
        subject_id uuid not null,
        audience text not null,
        district_code text references district(code),
        created_at timestamptz not null default now(),
        unique (kind, subject_id, audience)
      );`);

    this.addSql(`
      create table account (
        id text primary key,
        kind text not null check (kind in ('personal', 'welfare', 'grant', 'care_home')),
        person_id uuid references person(id),
        district_code text references district(code),
        balance bigint not null default 0,
        reserved bigint not null default 0 check (reserved >= 0),
        version bigint not null default 0 check (version >= 0),
        created_at timestamptz not null default now(),
        check (kind = 'grant' or balance - reserved >= 0),
        check (kind <> 'personal' or person_id is not null)
      );`);

    this.addSql(`
      create table transfer (
        id text primary key,
        kind text not null check (kind in ('order_settlement', 'gift', 'donation', 'welfare_allocation', 'grant',
                                           'care_home_spend', 'compensating_reversal')),
        debit_account_id text not null references account(id),
        credit_account_id text not null references account(id),
        amount bigint not null check (amount > 0),
        order_id uuid,
        memo text,
        request_hash text not null,
        created_at timestamptz not null default now(),
        check (debit_account_id <> credit_account_id)
      );`);
    this.addSql(`create index transfer_order_idx on transfer(order_id) where order_id is not null;`);

    this.addSql(`
      create table reservation (
        id text primary key,
        kind text not null check (kind in ('order', 'care_home')),
        account_id text not null references account(id),
        amount bigint not null check (amount > 0),
        status text not null check (status in ('pending', 'posted', 'voided')),
        order_id uuid,
        posted_amount bigint check (posted_amount >= 0),
        settlement_transfer_id text references transfer(id),
        created_at timestamptz not null default now(),
        resolved_at timestamptz
      );`);
    this.addSql(`create index reservation_order_idx on reservation(order_id) where order_id is not null;`);

    this.addSql(`
      create table entry (
        account_id text not null references account(id),
        version bigint not null check (version > 0),
        transfer_id text not null references transfer(id),
        amount bigint not null check (amount <> 0),
        balance_after bigint not null,
        created_at timestamptz not null default now(),
        primary key (account_id, version)
      );`);
    this.addSql(`create index entry_transfer_idx on entry(transfer_id);`);

    // Entries and transfers are append-only: corrections are new transfers.
    this.addSql(`
      create function ledger_refuse_change() returns trigger language plpgsql as $$
      begin
        raise exception 'ledger rows in % are append-only; post a compensating transfer instead', tg_table_name
          using errcode = 'P0001';
      end $$;`);
    this.addSql(`create trigger entry_append_only before update or delete on entry
                   for each row execute function ledger_refuse_change();`);
    this.addSql(`create trigger transfer_append_only before update or delete on transfer
                   for each row execute function ledger_refuse_change();`);
    this.addSql(`create trigger entry_no_truncate before truncate on entry
                   for each statement execute function ledger_refuse_change();`);
    this.addSql(`create trigger transfer_no_truncate before truncate on transfer
                   for each statement execute function ledger_refuse_change();`);

    // A reservation is resolved exactly once: pending becomes posted or voided.
    this.addSql(`
      create function reservation_resolve_once() returns trigger language plpgsql as $$
      begin
        if tg_op = 'DELETE' then
          raise exception 'reservations are never deleted' using errcode = 'P0001';
        end if;
        if old.status <> 'pending' or new.status not in ('posted', 'voided')
           or new.amount <> old.amount or new.account_id <> old.account_id or new.id <> old.id then
          raise exception 'reservation % is already %; it can be resolved only once', old.id, old.status
            using errcode = 'P0001';
        end if;
        return new;
      end $$;`);
    this.addSql(`create trigger reservation_resolve_once before update or delete on reservation
                   for each row execute function reservation_resolve_once();`);

    // Which account kinds each transfer kind may connect. Nothing leads out of
    // the coin economy because no account kind stands for money or goods.
    this.addSql(`
      create function transfer_check_kinds() returns trigger language plpgsql as $$
      declare
        debit_kind text;
        credit_kind text;
      begin
        select kind into debit_kind from account where id = new.debit_account_id;
        select kind into credit_kind from account where id = new.credit_account_id;
        if not (
             (new.kind = 'order_settlement' and debit_kind = 'personal' and credit_kind = 'personal')
          or (new.kind = 'gift' and debit_kind = 'personal' and credit_kind = 'personal')
          or (new.kind = 'donation' and debit_kind = 'personal' and credit_kind = 'welfare')
          or (new.kind = 'welfare_allocation' and debit_kind = 'welfare' and credit_kind = 'personal')
          or (new.kind = 'grant' and debit_kind = 'grant' and credit_kind = 'personal')
          or (new.kind = 'care_home_spend' and debit_kind = 'personal' and credit_kind = 'care_home')
          or (new.kind = 'compensating_reversal' and debit_kind in ('personal', 'welfare', 'care_home')
                                                  and credit_kind in ('personal', 'welfare', 'grant'))
        ) then
          raise exception 'a % transfer may not move coins from a % account to a % account',
            new.kind, debit_kind, credit_kind using errcode = 'P0001';
        end if;
        return new;
      end $$;`);
    this.addSql(`create trigger transfer_check_kinds before insert on transfer
                   for each row execute function transfer_check_kinds();`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists entry, reservation, transfer, account, notification, follow_up_call,
                   volunteer_slot, service_order, staff, institution, person, service_category, street, district cascade;`);
    this.addSql(`drop function if exists ledger_refuse_change, reservation_resolve_once, transfer_check_kinds;`);
  }
}
