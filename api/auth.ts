import type { NextFunction, Request, Response } from 'express';
import { z } from 'zod';
import type { Actor, ActorRole } from '../domain/order';
import type { AppContext } from './context';
import { ApiError, fieldError, requestLang } from './problem';
import { signLocalToken, TokenRejected, TokenVerifier, UPSTREAM_ROLES } from './tokens';

/*
 * Bearer tokens are JWTs naming the actor (sub), the role and, for district
 * staff, the district. Elders and volunteers bring tokens of an upstream
 * issuer (TIMEBANK_TRUSTED_ISSUERS); staff get short-lived local tokens from
 * POST /v1/staff/sessions. An institution agent names the person acted for in
 * the On-Behalf-Of header, and needs that person's recorded consent.
 * NOTE: a local-issuer token is trusted for any role without a lookup of the
 * staff table, so TIMEBANK_JWT_SECRET must stay as secret as a staff password
 * store: scripts/token.ts mints with it for the demo and tests.
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

/** Signs a local-issuer HS256 token, as the demo, the tests and staff sign-in use. */
export async function mintToken(secret: string, issuer: string, claims: TokenClaims, ttl = '12h'): Promise<string> {
  return signLocalToken(secret, issuer, claims, ttl);
}

declare module 'express-serve-static-core' {
  interface Request {
    actor?: Actor;
  }
}

/** The On-Behalf-Of header of an agent: the id of the person acted for. */
export const onBehalfOfSchema = z.string().uuid();

function bearerToken(req: Request): string {
  const header = req.headers.authorization;
  if (!header || !header.startsWith('Bearer ') || header.length <= 'Bearer '.length) {
    throw new ApiError('UNAUTHENTICATED', 'Authorization: a Bearer token is required');
  }
  return header.slice('Bearer '.length);
}

/**
 * Verifies the bearer token and stores the actor on the request: 401 for a
 * missing or invalid token, 403 for an agent outside a confirmed institution
 * or acting for a person who has not consented to that institution.
 */
export function authenticate(ctx: AppContext) {
  const verifier = new TokenVerifier({
    localIssuer: ctx.config.jwt.issuer,
    localSecret: ctx.jwtSecret,
    trustedIssuers: ctx.config.trustedIssuers,
    onKeyReloadError: (issuer, err) => ctx.logger.error({ issuer, err }, 'JWKS file could not be reloaded; keeping the previous keys'),
  });
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      let verified;
      try {
        verified = await verifier.verify(bearerToken(req));
      } catch (err) {
        if (err instanceof TokenRejected) throw new ApiError('UNAUTHENTICATED', `Authorization: token rejected (${err.message})`);
        throw err;
      }
      const claims = claimsSchema.safeParse(verified.payload);
      if (!claims.success) throw new ApiError('UNAUTHENTICATED', 'Authorization: token claims are incomplete');
      if (verified.upstream && !UPSTREAM_ROLES.includes(claims.data.role)) {
        throw new ApiError('UNAUTHENTICATED', `Authorization: issuer ${verified.issuer} may not assert role ${claims.data.role}`);
      }
      const actor: Actor = { id: claims.data.sub, role: claims.data.role, districtCode: claims.data.district };
      if (['street_reviewer', 'district_officer'].includes(actor.role) && !actor.districtCode) {
        throw new ApiError('UNAUTHENTICATED', 'Authorization: district staff tokens must name a district');
      }
      if (actor.role === 'agent') await resolveAgent(ctx, req, actor);
      req.actor = actor;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Fills in the agent's institution and the person acted for, checking that
 * the agent account is active and that the person consented to the institution.
 */
async function resolveAgent(ctx: AppContext, req: Request, actor: Actor): Promise<void> {
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
  const em = ctx.orm.em.fork();
  const [agent] = await em.execute<Array<{ institution_id: string }>>(
    `select institution_id from staff where id = ? and role = 'agent' and disabled_at is null`,
    [actor.id],
  );
  if (!agent) throw new ApiError('AGENT_NOT_REGISTERED', `agent ${actor.id} is not an active agent of a confirmed institution`);
  actor.institutionId = agent.institution_id;
  if (actor.onBehalfOf === undefined) return;
  const [consent] = await em.execute<Array<{ id: string }>>(
    `select id from agent_consent where person_id = ? and institution_id = ? and revoked_at is null`,
    [actor.onBehalfOf, agent.institution_id],
  );
  if (!consent) {
    throw new ApiError(
      'AGENT_CONSENT_MISSING',
      `person ${actor.onBehalfOf} has not consented to institution ${agent.institution_id} acting for them`,
    );
  }
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
