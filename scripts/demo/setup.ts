import { randomUUID } from 'node:crypto';
import { mintToken, TokenClaims } from '../../api/auth';
import { ageOn } from '../../domain/resident-id';
import { mapWithConcurrency } from './concurrency';
import { ApiClient, toRequestError } from './http';
import type { Person, Population } from './population';
import { startProgress } from './progress';

/** A generated person after registration through the API. */
export interface RegisteredPerson extends Person {
  id: string;
  /** False for the volunteers registered without accident insurance; always true for elders. */
  insured: boolean;
}

export interface RegisteredPopulation {
  elders: RegisteredPerson[];
  volunteers: RegisteredPerson[];
  /** People whose resident ID number an earlier run already registered; the demo leaves them out. */
  alreadyRegistered: number;
}

/** Every n-th volunteer registers without insurance, so the API must reject their acceptances. */
const UNINSURED_EVERY = 20;

/**
 * Mints and caches the bearer tokens of the demo's actors. Staff of each
 * district get a fresh subject id per run: one street reviewer (街道审核员)
 * and one district civil-affairs officer (区民政).
 */
export class TokenBook {
  private readonly tokens = new Map<string, Promise<string>>();
  private readonly staffIds = new Map<string, string>();

  constructor(
    private readonly secret: string,
    private readonly issuer: string,
  ) {}

  elder(personId: string): Promise<string> {
    return this.token({ sub: personId, role: 'elder' });
  }

  volunteer(personId: string): Promise<string> {
    return this.token({ sub: personId, role: 'volunteer' });
  }

  reviewer(districtCode: string): Promise<string> {
    return this.token({ sub: this.staffId('street_reviewer', districtCode), role: 'street_reviewer', district: districtCode });
  }

  officer(districtCode: string): Promise<string> {
    return this.token({ sub: this.staffId('district_officer', districtCode), role: 'district_officer', district: districtCode });
  }

  private staffId(role: string, districtCode: string): string {
    const key = `${role}:${districtCode}`;
    let id = this.staffIds.get(key);
    if (!id) {
      id = randomUUID();
      this.staffIds.set(key, id);
    }
    return id;
  }

  private token(claims: TokenClaims): Promise<string> {
    const key = `${claims.role}:${claims.sub}`;
    let token = this.tokens.get(key);
    if (!token) {
      // Long enough for any demo run; a token is never written anywhere.
      token = mintToken(this.secret, this.issuer, claims, '2h');
      this.tokens.set(key, token);
    }
    return token;
  }
}

/**
 * Registers every elder and volunteer of the population through
 * POST /v1/elders and /v1/volunteers, each with a street reviewer token of the
 * person's district. An earlier run on the same data may have registered a
 * resident ID number already (HTTP 409 RESIDENT_ID_TAKEN). Such a person is
 * left out and counted, and any other failure aborts the demo.
 */
export async function registerPopulation(
  api: ApiClient,
  tokens: TokenBook,
  population: Population,
  concurrency: number,
): Promise<RegisteredPopulation> {
  const jobs = [
    ...population.elders.map((person, index) => ({ person, role: 'elder' as const, insured: true, index })),
    ...population.volunteers.map((person, index) => ({
      person,
      role: 'volunteer' as const,
      insured: index % UNINSURED_EVERY !== UNINSURED_EVERY - 1,
      index,
    })),
  ];
  const progress = startProgress('registering people', jobs.length);
  let done = 0;
  let failed = 0;
  let alreadyRegistered = 0;

  try {
    const registered = await mapWithConcurrency(jobs, concurrency, async (job) => {
      const body =
        job.role === 'volunteer'
          ? volunteerRegistration(job.person, { trainedOn: trainingDate(job.index), insured: job.insured })
          : personRegistration(job.person);
      const path = job.role === 'elder' ? '/v1/elders' : '/v1/volunteers';
      const response = await api.send('POST', path, { token: await tokens.reviewer(job.person.districtCode), body });
      done += 1;
      const taken = response.status === 409 && (response.body as { code?: string } | undefined)?.code === 'RESIDENT_ID_TAKEN';
      if (response.status !== 201 && !taken) failed += 1;
      progress.update(done, failed);
      if (response.status === 201) {
        const id = (response.body as { id: string }).id;
        return { role: job.role, person: { ...job.person, id, insured: job.insured } };
      }
      if (taken) {
        alreadyRegistered += 1;
        return undefined;
      }
      throw toRequestError('POST', path, response);
    });

    const pick = (role: 'elder' | 'volunteer') =>
      registered.flatMap((entry) => (entry && entry.role === role ? [entry.person] : []));
    return { elders: pick('elder'), volunteers: pick('volunteer'), alreadyRegistered };
  } finally {
    progress.stop();
  }
}

/** Builds the body of POST /v1/elders from a generated person. */
function personRegistration(person: Person): Record<string, unknown> {
  return {
    residentId: person.residentId,
    name: person.name,
    phone: person.phone,
    streetCode: person.streetCode,
    address: person.address,
  };
}

/** Builds the body of POST /v1/volunteers: a trained volunteer who declared fitness, insured through the registry when `insured`. */
export function volunteerRegistration(person: Person, options: { trainedOn: string; insured: boolean }): Record<string, unknown> {
  const body: Record<string, unknown> = { ...personRegistration(person), trainedOn: options.trainedOn, fitnessDeclared: true };
  if (options.insured) body.insurance = 'registry';
  return body;
}

/** Returns a training date (培训日期) in the past, spread over the last year. */
export function trainingDate(index: number): string {
  const daysAgo = 30 + ((index * 37) % 330);
  return new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
}

/**
 * Grants each elder the coins their planned orders need, through
 * POST /v1/grants with a district officer token of the elder's district.
 * `minutesByElder` maps elder ids to the minutes to grant.
 */
export async function fundElders(
  api: ApiClient,
  tokens: TokenBook,
  elders: readonly RegisteredPerson[],
  minutesByElder: ReadonlyMap<string, number>,
  options: { runId: string; veryOldAge: number; concurrency: number },
): Promise<number> {
  const funded = elders.filter((elder) => (minutesByElder.get(elder.id) ?? 0) > 0);
  const progress = startProgress('granting coins', funded.length);
  let done = 0;
  let failed = 0;
  let grantedMinutes = 0;
  try {
    await mapWithConcurrency(funded, options.concurrency, async (elder) => {
      const amountMinutes = minutesByElder.get(elder.id)!;
      try {
        await api.call('POST', '/v1/grants', {
          token: await tokens.officer(elder.districtCode),
          idempotencyKey: `demo.${options.runId}.grant.${elder.id}`,
          body: { elderId: elder.id, amountMinutes, reason: grantReason(elder, options.veryOldAge) },
        });
        grantedMinutes += amountMinutes;
      } catch (err) {
        failed += 1;
        throw err;
      } finally {
        done += 1;
        progress.update(done, failed);
      }
    });
  } finally {
    progress.stop();
  }
  return grantedMinutes;
}

/** Returns the stated reason of a grant: the very-old allowance from `veryOldAge` (80 in Beijing), hardship otherwise. */
function grantReason(elder: RegisteredPerson, veryOldAge: number): string {
  return ageOn(elder.birthDate, new Date()) >= veryOldAge
    ? `高龄老人（${veryOldAge} 周岁及以上）时间币补贴`
    : '经济困难老人时间币补贴';
}
