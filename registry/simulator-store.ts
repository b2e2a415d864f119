/**
 * PostgreSQL storage of the Volunteer Beijing simulator. The registry is a
 * separate system, so its tables live in their own schema, created on start
 * and not part of our migrations.
 */
import { Pool, PoolClient } from 'pg';
import { z } from 'zod';
import {
  ClaimInput,
  ClaimStatus,
  ClaimStatusValue,
  ServiceRecord,
  ServiceRecordInput,
  VolunteerStatus,
  volunteerRefSchema,
} from './contract';

export const SIMULATOR_SCHEMA = 'volunteer_beijing_sim';

const CREATE_SCHEMA_SQL = `
create schema if not exists ${SIMULATOR_SCHEMA};

create table if not exists ${SIMULATOR_SCHEMA}.volunteers (
  volunteer_ref text primary key,
  registered boolean not null,
  approved boolean not null,
  insured_until date,
  updated_at timestamptz not null default now(),
  check (registered or not approved),
  check (approved or insured_until is null)
);

create table if not exists ${SIMULATOR_SCHEMA}.service_records (
  record_id text primary key,
  volunteer_ref text not null,
  service_item text not null,
  district_code text not null,
  street_code text not null,
  started_at timestamptz not null,
  ended_at timestamptz not null,
  minutes integer not null check (minutes >= 0),
  backfilled boolean not null,
  received_at timestamptz not null default now()
);

create table if not exists ${SIMULATOR_SCHEMA}.claims (
  claim_id text primary key,
  volunteer_ref text not null,
  record_id text not null references ${SIMULATOR_SCHEMA}.service_records (record_id),
  injured_at timestamptz not null,
  description text not null,
  status text not null check (status in ('submitted', 'reviewing', 'approved', 'rejected', 'closed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
`;

/** A volunteer as seeded through POST /_sim/volunteers. */
export const volunteerSeedSchema = z
  .strictObject({
    volunteerRef: volunteerRefSchema,
    registered: z.boolean().default(true),
    approved: z.boolean().default(true),
    /** Last day of insurance cover (YYYY-MM-DD). Null or omitted means not insured. */
    insuredUntil: z.iso.date({ error: 'must be a date in YYYY-MM-DD form' }).nullable().default(null),
  })
  .superRefine((seed, ctx) => {
    if (seed.approved && !seed.registered) {
      ctx.addIssue({ code: 'custom', path: ['approved'], message: 'requires registered: true' });
    }
    if (seed.insuredUntil !== null && !seed.approved) {
      ctx.addIssue({ code: 'custom', path: ['insuredUntil'], message: 'requires approved: true' });
    }
  });

export type VolunteerSeed = z.output<typeof volunteerSeedSchema>;

export type WriteOutcome<T> =
  | { outcome: 'created'; value: T }
  | { outcome: 'same'; value: T }
  /** `differingFields` names the request fields whose values differ from the stored ones. */
  | { outcome: 'conflict'; differingFields: string[] };

export type ClaimWriteOutcome =
  | WriteOutcome<ClaimStatus>
  | { outcome: 'unknown_record' }
  | { outcome: 'volunteer_mismatch' };

export type AdvanceOutcome =
  | { outcome: 'advanced'; value: ClaimStatus }
  | { outcome: 'not_found' }
  | { outcome: 'closed' };

export interface StoredCounts {
  volunteers: number;
  records: number;
  backfilledRecords: number;
  claims: number;
}

interface ServiceRecordRow {
  record_id: string;
  volunteer_ref: string;
  service_item: string;
  district_code: string;
  street_code: string;
  started_at: Date;
  ended_at: Date;
  minutes: number;
  backfilled: boolean;
  received_at: Date;
}

interface ClaimRow {
  status: ClaimStatusValue;
  updated_at: Date;
}

const RECORD_COLUMNS = `record_id, volunteer_ref, service_item, district_code, street_code,
  started_at, ended_at, minutes, backfilled, received_at`;

/** Returns the status after `status`, or undefined after `closed`. From `reviewing` it follows `outcome`. */
function nextClaimStatus(status: ClaimStatusValue, outcome: 'approved' | 'rejected'): ClaimStatusValue | undefined {
  switch (status) {
    case 'submitted':
      return 'reviewing';
    case 'reviewing':
      return outcome;
    case 'approved':
    case 'rejected':
      return 'closed';
    case 'closed':
      return undefined;
  }
}

function toServiceRecord(row: ServiceRecordRow): ServiceRecord {
  return {
    recordId: row.record_id,
    volunteerRef: row.volunteer_ref,
    serviceItem: row.service_item,
    place: { districtCode: row.district_code, streetCode: row.street_code },
    startedAt: row.started_at.toISOString(),
    endedAt: row.ended_at.toISOString(),
    minutes: row.minutes,
    backfilled: row.backfilled,
    receivedAt: row.received_at.toISOString(),
  };
}

function toClaimStatus(row: ClaimRow): ClaimStatus {
  return { status: row.status, updatedAt: row.updated_at.toISOString() };
}

/**
 * Builds the record a write would store without storing it, for the response
 * to a write that the lose-record fault drops.
 */
export function unsavedServiceRecord(recordId: string, input: ServiceRecordInput, backfilled: boolean): ServiceRecord {
  return {
    recordId,
    ...input,
    place: { ...input.place },
    startedAt: new Date(input.startedAt).toISOString(),
    endedAt: new Date(input.endedAt).toISOString(),
    backfilled,
    receivedAt: new Date().toISOString(),
  };
}

export class SimulatorStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Creates the schema and tables when missing. An advisory lock serialises
   * concurrent starts, because `create ... if not exists` can still fail with
   * a unique violation when two sessions race.
   */
  async ensureSchema(): Promise<void> {
    await this.inTransaction(async (client) => {
      await client.query(`select pg_advisory_xact_lock(hashtext($1))`, [SIMULATOR_SCHEMA]);
      await client.query(CREATE_SCHEMA_SQL);
    });
  }

  async upsertVolunteers(seeds: VolunteerSeed[]): Promise<void> {
    await this.inTransaction(async (client) => {
      for (const seed of seeds) {
        await client.query(
          `insert into ${SIMULATOR_SCHEMA}.volunteers (volunteer_ref, registered, approved, insured_until)
           values ($1, $2, $3, $4::date)
           on conflict (volunteer_ref) do update
             set registered = excluded.registered, approved = excluded.approved,
                 insured_until = excluded.insured_until, updated_at = now()`,
          [seed.volunteerRef, seed.registered, seed.approved, seed.insuredUntil],
        );
      }
    });
  }

  /** Returns the status of a volunteer. Insurance counts until the end of its last day in Asia/Shanghai. */
  async volunteerStatus(volunteerRef: string): Promise<VolunteerStatus> {
    const result = await this.pool.query<{
      registered: boolean;
      approved: boolean;
      insured: boolean;
      insured_until: string | null;
    }>(
      `select registered, approved,
              coalesce(insured_until >= (now() at time zone 'Asia/Shanghai')::date, false) as insured,
              to_char(insured_until, 'YYYY-MM-DD') as insured_until
         from ${SIMULATOR_SCHEMA}.volunteers where volunteer_ref = $1`,
      [volunteerRef],
    );
    const row = result.rows[0];
    if (row === undefined) return { registered: false, approved: false, insured: false };
    return {
      registered: row.registered,
      approved: row.approved,
      insured: row.insured,
      ...(row.insured_until === null ? {} : { insuredUntil: row.insured_until }),
    };
  }

  async findServiceRecord(recordId: string): Promise<ServiceRecord | undefined> {
    const result = await this.pool.query<ServiceRecordRow>(
      `select ${RECORD_COLUMNS} from ${SIMULATOR_SCHEMA}.service_records where record_id = $1`,
      [recordId],
    );
    const row = result.rows[0];
    return row === undefined ? undefined : toServiceRecord(row);
  }

  /**
   * Stores a service record unless one with that id exists. An existing record
   * with the same content (instants compared as instants, whatever their
   * offset) is returned unchanged, including its back-fill flag.
   */
  async insertServiceRecord(
    recordId: string,
    input: ServiceRecordInput,
    backfilled: boolean,
  ): Promise<WriteOutcome<ServiceRecord>> {
    const values = [
      recordId,
      input.volunteerRef,
      input.serviceItem,
      input.place.districtCode,
      input.place.streetCode,
      input.startedAt,
      input.endedAt,
      input.minutes,
    ];
    const inserted = await this.pool.query<ServiceRecordRow>(
      `insert into ${SIMULATOR_SCHEMA}.service_records
         (record_id, volunteer_ref, service_item, district_code, street_code, started_at, ended_at, minutes, backfilled)
       values ($1, $2, $3, $4, $5, $6::timestamptz, $7::timestamptz, $8, $9)
       on conflict (record_id) do nothing
       returning ${RECORD_COLUMNS}`,
      [...values, backfilled],
    );
    if (inserted.rows[0] !== undefined) return { outcome: 'created', value: toServiceRecord(inserted.rows[0]) };

    type SameFlag =
      | 'same_volunteer_ref'
      | 'same_service_item'
      | 'same_place'
      | 'same_started_at'
      | 'same_ended_at'
      | 'same_minutes';
    const existing = await this.pool.query<ServiceRecordRow & Record<SameFlag, boolean>>(
      `select ${RECORD_COLUMNS},
              volunteer_ref = $2 as same_volunteer_ref,
              service_item = $3 as same_service_item,
              (district_code = $4 and street_code = $5) as same_place,
              started_at = $6::timestamptz as same_started_at,
              ended_at = $7::timestamptz as same_ended_at,
              minutes = $8 as same_minutes
         from ${SIMULATOR_SCHEMA}.service_records where record_id = $1`,
      values,
    );
    const row = existing.rows[0];
    if (row === undefined) {
      // Only a concurrent reset can delete the row between the two statements.
      throw new Error(`service record ${recordId} vanished between insert and read`);
    }
    const differingFields = [
      row.same_volunteer_ref ? undefined : 'volunteerRef',
      row.same_service_item ? undefined : 'serviceItem',
      row.same_place ? undefined : 'place',
      row.same_started_at ? undefined : 'startedAt',
      row.same_ended_at ? undefined : 'endedAt',
      row.same_minutes ? undefined : 'minutes',
    ].filter((field): field is string => field !== undefined);
    if (differingFields.length > 0) return { outcome: 'conflict', differingFields };
    return { outcome: 'same', value: toServiceRecord(row) };
  }

  /**
   * Stores a claim in status `submitted`. An existing claim with that id is
   * compared first, so a repeat gets 200 or 409 before the record is checked.
   */
  async insertClaim(claimId: string, input: ClaimInput): Promise<ClaimWriteOutcome> {
    return this.inTransaction(async (client) => {
      const existing = await this.compareClaim(client, claimId, input);
      if (existing !== undefined) return existing;

      // `for key share` keeps the record from being deleted until the claim referencing it commits.
      const record = await client.query<{ volunteer_ref: string }>(
        `select volunteer_ref from ${SIMULATOR_SCHEMA}.service_records where record_id = $1 for key share`,
        [input.recordId],
      );
      if (record.rows[0] === undefined) return { outcome: 'unknown_record' };
      if (record.rows[0].volunteer_ref !== input.volunteerRef) return { outcome: 'volunteer_mismatch' };

      const inserted = await client.query<ClaimRow>(
        `insert into ${SIMULATOR_SCHEMA}.claims (claim_id, volunteer_ref, record_id, injured_at, description, status)
         values ($1, $2, $3, $4::timestamptz, $5, 'submitted')
         on conflict (claim_id) do nothing
         returning status, updated_at`,
        [claimId, input.volunteerRef, input.recordId, input.injuredAt, input.description],
      );
      if (inserted.rows[0] !== undefined) return { outcome: 'created', value: toClaimStatus(inserted.rows[0]) };

      // A concurrent request inserted the same claim id after our first check.
      const raced = await this.compareClaim(client, claimId, input);
      if (raced === undefined) throw new Error(`claim ${claimId} vanished between insert and read`);
      return raced;
    });
  }

  async claimStatus(claimId: string): Promise<ClaimStatus | undefined> {
    const result = await this.pool.query<ClaimRow>(
      `select status, updated_at from ${SIMULATOR_SCHEMA}.claims where claim_id = $1`,
      [claimId],
    );
    return result.rows[0] === undefined ? undefined : toClaimStatus(result.rows[0]);
  }

  /**
   * Moves a claim one step: submitted → reviewing → approved or rejected
   * (chosen by `outcome`) → closed.
   */
  async advanceClaim(claimId: string, outcome: 'approved' | 'rejected'): Promise<AdvanceOutcome> {
    return this.inTransaction(async (client) => {
      const current = await client.query<ClaimRow>(
        `select status, updated_at from ${SIMULATOR_SCHEMA}.claims where claim_id = $1 for update`,
        [claimId],
      );
      const row = current.rows[0];
      if (row === undefined) return { outcome: 'not_found' };
      const next = nextClaimStatus(row.status, outcome);
      if (next === undefined) return { outcome: 'closed' };

      // Each step moves updatedAt forward by at least 1 ms, the resolution of
      // the returned ISO string, so callers can order the steps by it.
      const updated = await client.query<ClaimRow>(
        `update ${SIMULATOR_SCHEMA}.claims
            set status = $2, updated_at = greatest(clock_timestamp(), updated_at + interval '1 millisecond')
          where claim_id = $1 returning status, updated_at`,
        [claimId, next],
      );
      return { outcome: 'advanced', value: toClaimStatus(updated.rows[0]) };
    });
  }

  async counts(): Promise<StoredCounts> {
    const result = await this.pool.query<Record<keyof StoredCounts, number>>(
      `select (select count(*) from ${SIMULATOR_SCHEMA}.volunteers)::int as volunteers,
              (select count(*) from ${SIMULATOR_SCHEMA}.service_records)::int as records,
              (select count(*) from ${SIMULATOR_SCHEMA}.service_records where backfilled)::int as "backfilledRecords",
              (select count(*) from ${SIMULATOR_SCHEMA}.claims)::int as claims`,
    );
    return result.rows[0];
  }

  /** Deletes every volunteer, record and claim. */
  async truncate(): Promise<void> {
    await this.pool.query(
      `truncate ${SIMULATOR_SCHEMA}.claims, ${SIMULATOR_SCHEMA}.service_records, ${SIMULATOR_SCHEMA}.volunteers`,
    );
  }

  private async compareClaim(
    client: PoolClient,
    claimId: string,
    input: ClaimInput,
  ): Promise<WriteOutcome<ClaimStatus> | undefined> {
    const result = await client.query<
      ClaimRow & Record<'same_volunteer_ref' | 'same_record_id' | 'same_injured_at' | 'same_description', boolean>
    >(
      `select status, updated_at,
              volunteer_ref = $2 as same_volunteer_ref,
              record_id = $3 as same_record_id,
              injured_at = $4::timestamptz as same_injured_at,
              description = $5 as same_description
         from ${SIMULATOR_SCHEMA}.claims where claim_id = $1`,
      [claimId, input.volunteerRef, input.recordId, input.injuredAt, input.description],
    );
    const row = result.rows[0];
    if (row === undefined) return undefined;
    const differingFields = [
      row.same_volunteer_ref ? undefined : 'volunteerRef',
      row.same_record_id ? undefined : 'recordId',
      row.same_injured_at ? undefined : 'injuredAt',
      row.same_description ? undefined : 'description',
    ].filter((field): field is string => field !== undefined);
    if (differingFields.length > 0) return { outcome: 'conflict', differingFields };
    return { outcome: 'same', value: toClaimStatus(row) };
  }

  private async inTransaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('begin');
      const result = await work(client);
      await client.query('commit');
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
