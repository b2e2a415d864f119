import type { NextFunction, Request, Response } from 'express';
import { jwtVerify, SignJWT } from 'jose';
import { z } from 'zod';
import type { Actor, ActorRole } from '../domain/order';
import { ApiError, fieldError, requestLang } from './problem';

/*
 * Bearer tokens are HS256 JWTs naming the actor (sub), the role and, for
 * district staff, the district. An institution agent names the person acted
 * for in the On-Behalf-Of header of each request.
 * NOTE: one shared secret signs every token; upstream issuers with key
 * rotation and staff password sign-in are not built yet.
 */

export const ROLES = [
  'elder',
  'volunteer',
  'agent',
  'street_reviewer',
  'district_officer',
  'city_admin',
  'operator',
] as const satisfies readonly ActorRole[];

const claimsSchema = z.object({
  sub: z.string().uuid(),
  role: z.enum(ROLES),
  district: z.string().regex(/^[0-9]{6}$/).optional(),
});

export interface TokenClaims {
  sub: string;
  role: ActorRole;
  district?: string;
}

export async function mintToken(secret: string, issuer: string, claims: TokenClaims, ttl = '12h'): Promise<string> {
  const jwt = new SignJWT({ role: claims.role, ...(claims.district ? { district: claims.district } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(ttl);
  return jwt.sign(new TextEncoder().encode(secret));
}

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
  }
}

const onBehalfOfSchema = z.string().uuid();

/** Verifies the bearer token and stores the actor on the request; 401 otherwise. */
export function authenticate(secret: string, issuer: string) {
  const key = new TextEncoder().encode(secret);
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const header = req.headers.authorization;
      if (!header || !header.startsWith('Bearer ')) {
        throw new ApiError('UNAUTHENTICATED', 'Authorization: a Bearer token is required');
      }
      let payload: unknown;
      try {
        ({ payload } = await jwtVerify(header.slice('Bearer '.length), key, { issuer, algorithms: ['HS256'] }));
      } catch (err) {
        throw new ApiError('UNAUTHENTICATED', `Authorization: token rejected (${(err as Error).message})`);
      }
      const claims = claimsSchema.safeParse(payload);
      if (!claims.success) throw new ApiError('UNAUTHENTICATED', 'Authorization: token claims are incomplete');
      const actor: Actor = { id: claims.data.sub, role: claims.data.role, districtCode: claims.data.district };
      if (actor.role === 'agent') {
        const onBehalf = req.headers['on-behalf-of'];
        if (onBehalf !== undefined) {
          const parsed = onBehalfOfSchema.safeParse(onBehalf);
          if (!parsed.success) {
            throw fieldError(
              'VALIDATION_FAILED',
              'header.On-Behalf-Of',
              '须为被代办人的人员编号（UUID）',
              'must be the id (uuid) of the person acted for',
              requestLang(req),
            );
          }
          actor.onBehalfOf = parsed.data;
        }
      }
      if (['street_reviewer', 'district_officer'].includes(actor.role) && !actor.districtCode) {
        throw new ApiError('UNAUTHENTICATED', 'Authorization: district staff tokens must name a district');
      }
      req.actor = actor;
      next();
    } catch (err) {
      next(err);
    }
  };
}

export function actorOf(req: Request): Actor {
  if (!req.actor) throw new ApiError('UNAUTHENTICATED');
  return req.actor;
}

/** Rejects the request with 403 unless the actor has one of `roles`. */
export function requireRole(req: Request, ...roles: ActorRole[]): Actor {
  const actor = actorOf(req);
  if (!roles.includes(actor.role)) {
    throw new ApiError('FORBIDDEN', `role ${actor.role} may not do this; allowed: ${roles.join(', ')}`);
  }
  return actor;
}

/** The person a request acts as: the token's subject, or the person an agent acts for. */
export function subjectPersonId(actor: Actor): string {
  if (actor.role === 'agent') {
    if (!actor.onBehalfOf) {
      throw fieldError(
        'VALIDATION_FAILED',
        'header.On-Behalf-Of',
        '机构代办人必须指明被代办人',
        'an agent must name the person acted for',
      );
    }
    return actor.onBehalfOf;
  }
  return actor.id;
}

export const STAFF_ROLES: ActorRole[] = ['street_reviewer', 'district_officer', 'city_admin'];

/** True when a staff actor may act on something in `districtCode`. */
export function staffCovers(actor: Actor, districtCode: string): boolean {
  if (actor.role === 'city_admin' || actor.role === 'operator') return true;
  return actor.districtCode === districtCode;
}
