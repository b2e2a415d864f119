import { Migration } from '@mikro-orm/migrations';

/** Results of ledger reconciliation runs, kept for operators. */
export class Migration20261204210000_reconciliation extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table reconciliation_run (
        id text primary key,
        trigger text not null check (trigger in ('schedule', 'operator')),
        started_at timestamptz not null default now(),
        finished_at timestamptz,
        ok boolean,
        accounts_checked integer,
        problems jsonb not null default '[]'::jsonb
      );`);
    this.addSql(`create index reconciliation_run_started_idx on reconciliation_run(started_at desc);`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists reconciliation_run;`);
  }
}
