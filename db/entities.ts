import { EntitySchema } from '@mikro-orm/core';

/*
 * MikroORM entities over the tables of the initial migration. Column names
 * follow the default underscore naming strategy (servedMinutes -> served_minutes).
 * The schema itself lives in migrations/, never in schema generation.
 */

export interface District {
  code: string;
  name: string;
}
export const DistrictEntity = new EntitySchema<District>({
  name: 'District',
  tableName: 'district',
  properties: { code: { type: 'string', primary: true }, name: { type: 'string' } },
});

export interface Street {
  code: string;
  districtCode: string;
  name: string;
}
export const StreetEntity = new EntitySchema<Street>({
  name: 'Street',
  tableName: 'street',
  properties: {
    code: { type: 'string', primary: true },
    districtCode: { type: 'string' },
    name: { type: 'string' },
  },
});

export interface ServiceCategory {
  code: string;
  nameZh: string;
  nameEn: string;
}
export const ServiceCategoryEntity = new EntitySchema<ServiceCategory>({
  name: 'ServiceCategory',
  tableName: 'service_category',
  properties: {
    code: { type: 'string', primary: true },
    nameZh: { type: 'string' },
    nameEn: { type: 'string' },
  },
});

export type VolunteerStatus = 'active' | 'suspended' | 'revoked';
export type InsuranceStatus = 'registry' | 'organisation' | 'none';

export interface Person {
  id: string;
  residentId: string;
  name: string;
  phone: string;
  birthDate: string;
  districtCode: string;
  streetCode: string;
  address: string;
  isElder: boolean;
  isVolunteer: boolean;
  volunteerStatus: VolunteerStatus;
  insurance: InsuranceStatus;
  trainedOn?: string | null;
  servedMinutes: string;
  createdAt: Date;
}
export const PersonEntity = new EntitySchema<Person>({
  name: 'Person',
  tableName: 'person',
  properties: {
    id: { type: 'uuid', primary: true },
    residentId: { type: 'string', unique: true },
    name: { type: 'string' },
    phone: { type: 'string' },
    birthDate: { type: 'string', columnType: 'date' },
    districtCode: { type: 'string' },
    streetCode: { type: 'string' },
    address: { type: 'string' },
    isElder: { type: 'boolean' },
    isVolunteer: { type: 'boolean' },
    volunteerStatus: { type: 'string' },
    insurance: { type: 'string' },
    trainedOn: { type: 'string', columnType: 'date', nullable: true },
    // bigint columns come back as strings so no minute count is ever rounded.
    servedMinutes: { type: 'string', columnType: 'bigint' },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface Institution {
  id: string;
  name: string;
  districtCode: string;
  streetCode: string;
  confirmedAt: Date;
}
export const InstitutionEntity = new EntitySchema<Institution>({
  name: 'Institution',
  tableName: 'institution',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string' },
    districtCode: { type: 'string' },
    streetCode: { type: 'string' },
    confirmedAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export type StaffRole = 'street_reviewer' | 'district_officer' | 'city_admin' | 'operator';

export interface Staff {
  id: string;
  name: string;
  role: StaffRole;
  districtCode?: string | null;
  institutionId?: string | null;
  createdAt: Date;
}
export const StaffEntity = new EntitySchema<Staff>({
  name: 'Staff',
  tableName: 'staff',
  properties: {
    id: { type: 'uuid', primary: true },
    name: { type: 'string' },
    role: { type: 'string' },
    districtCode: { type: 'string', nullable: true },
    institutionId: { type: 'uuid', nullable: true },
    createdAt: { type: 'Date', onCreate: () => new Date() },
  },
});

export interface ServiceOrderRow {
  id: string;
  elderId: string;
  districtCode: string;
  streetCode: string;
  category: string;
  description: string;
  address: string;
  scheduledStart: Date;
  bookedMinutes: number;
  status: string;
  cancelReason?: string | null;
  volunteerId?: string | null;
  reviewerId?: string | null;
  reviewNote?: string | null;
  signedInAt?: Date | null;
  signedOutAt?: Date | null;
  servedMinutes?: number | null;
  settledMinutes?: number | null;
  rating?: number | null;
  ratingComment?: string | null;
  disputed: boolean;
  flags: string[];
  createdBy: string;
  actingAgentId?: string | null;
  idempotencyKey: string;
  requestHash: string;
  stateVersion: number;
  createdAt: Date;
  updatedAt: Date;
}
export const ServiceOrderEntity = new EntitySchema<ServiceOrderRow>({
  name: 'ServiceOrder',
  tableName: 'service_order',
  properties: {
    id: { type: 'uuid', primary: true },
    elderId: { type: 'uuid' },
    districtCode: { type: 'string' },
    streetCode: { type: 'string' },
    category: { type: 'string' },
    description: { type: 'string' },
    address: { type: 'string' },
    scheduledStart: { type: 'Date' },
    bookedMinutes: { type: 'integer' },
    status: { type: 'string' },
    cancelReason: { type: 'string', nullable: true },
    volunteerId: { type: 'uuid', nullable: true },
    reviewerId: { type: 'uuid', nullable: true },
    reviewNote: { type: 'string', nullable: true },
    signedInAt: { type: 'Date', nullable: true },
    signedOutAt: { type: 'Date', nullable: true },
    servedMinutes: { type: 'integer', nullable: true },
    settledMinutes: { type: 'integer', nullable: true },
    rating: { type: 'integer', nullable: true },
    ratingComment: { type: 'string', nullable: true },
    disputed: { type: 'boolean' },
    flags: { type: 'string[]', columnType: 'text[]' },
    createdBy: { type: 'uuid' },
    actingAgentId: { type: 'uuid', nullable: true },
    idempotencyKey: { type: 'string' },
    requestHash: { type: 'string' },
    stateVersion: { type: 'integer' },
    createdAt: { type: 'Date' },
    updatedAt: { type: 'Date' },
  },
});

export interface FollowUpCall {
  id: string;
  subjectKind: 'order' | 'case' | 'claim';
  subjectId: string;
  reason: string;
  districtCode: string;
  institutionId?: string | null;
  dueAt: Date;
  status: 'open' | 'done';
  outcome?: string | null;
  createdAt: Date;
}
export const FollowUpCallEntity = new EntitySchema<FollowUpCall>({
  name: 'FollowUpCall',
  tableName: 'follow_up_call',
  properties: {
    id: { type: 'uuid', primary: true },
    subjectKind: { type: 'string' },
    subjectId: { type: 'uuid' },
    reason: { type: 'string' },
    districtCode: { type: 'string' },
    institutionId: { type: 'uuid', nullable: true },
    dueAt: { type: 'Date' },
    status: { type: 'string' },
    outcome: { type: 'string', nullable: true },
    createdAt: { type: 'Date' },
  },
});

export const allEntities = [
  DistrictEntity,
  StreetEntity,
  ServiceCategoryEntity,
  PersonEntity,
  InstitutionEntity,
  StaffEntity,
  ServiceOrderEntity,
  FollowUpCallEntity,
];
