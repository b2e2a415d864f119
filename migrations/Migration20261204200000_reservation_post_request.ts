import { Migration } from '@mikro-orm/migrations';

/**
 * Stores a hash of the request that posted a reservation, so a retried post
 * with other content (amount, credit account, transfer id, kind or order) is
 * rejected instead of being reported as a replay. Reservations posted before
 * this migration keep a null hash; the NOT VALID check leaves them alone and
 * applies to every reservation posted from now on.
 */
export class Migration20261204200000_reservation_post_request extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table reservation add column post_request_hash text;`);
    this.addSql(`
      alter table reservation add constraint reservation_posted_has_request_hash
        check (status <> 'posted' or post_request_hash is not null) not valid;`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table reservation drop constraint if exists reservation_posted_has_request_hash;`);
    this.addSql(`alter table reservation drop column if exists post_request_hash;`);
  }
}
