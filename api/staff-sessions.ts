import { Router } from 'express';
import {
  clearSignInFailures,
  findStaffForSignIn,
  recordSignInFailure,
  SignInLimits,
  signInRetryAfter,
} from '../db/staff';
import type { ActorRole } from '../domain/order';
import { verifyPassword } from '../runtime/passwords';
import { mintToken } from './auth';
import { AppContext, route } from './context';
import { ApiError, fieldError, parseInput, requestLang } from './problem';
import { staffSessionBody } from './schemas';

/** Lifetime of a staff session token. */
export const STAFF_TOKEN_TTL_SECONDS = 15 * 60;

/**
 * Failed sign-ins allowed within the window, per login and per client
 * address; the next attempt gets 429 until the oldest counted failure ages
 * out. The per-address limit is higher because offices share an address.
 */
export const SIGN_IN_LIMITS: SignInLimits = { windowSeconds: 15 * 60, maxFailuresPerLogin: 5, maxFailuresPerIp: 20 };

/**
 * Staff sign-in with a password: POST /v1/staff/sessions returns a local
 * token valid for 15 minutes. Mounted before authentication.
 */
export function staffSessionsRouter(ctx: AppContext): Router {
  const router = Router();
  const em = () => ctx.orm.em.fork();

  router.post(
    '/staff/sessions',
    route(async (req, res) => {
      const lang = requestLang(req);
      const body = parseInput(req, staffSessionBody, req.body ?? {}, 'body');
      if ((body.login === undefined) === (body.staffId === undefined)) {
        throw fieldError('VALIDATION_FAILED', 'body.login', '须提供 login 或 staffId 之一', 'give exactly one of login and staffId', lang);
      }
      // Failures are counted per login as typed, so guessing ids and guessing logins are limited alike.
      const loginKey = body.login ?? body.staffId!;
      const ip = req.ip ?? req.socket.remoteAddress ?? 'unknown';
      const retryAfter = await signInRetryAfter(em(), loginKey, ip, SIGN_IN_LIMITS);
      if (retryAfter > 0) {
        res.set('Retry-After', String(retryAfter));
        throw new ApiError('TOO_MANY_SIGN_IN_ATTEMPTS', `retry after ${retryAfter} seconds`);
      }

      const staff = await findStaffForSignIn(em(), { staffId: body.staffId, login: body.login });
      const passwordMatches = await verifyPassword(body.password, staff?.password_hash);
      if (!staff || !passwordMatches || staff.disabled_at !== null) {
        await recordSignInFailure(em(), loginKey, ip);
        ctx.logger.warn({ staffId: staff?.id, ip }, 'staff sign-in failed');
        throw new ApiError('SIGN_IN_FAILED', 'the login or password is wrong, or the account is disabled');
      }
      await clearSignInFailures(em(), loginKey);

      // An agent's scope is its institution, looked up on each request, never a district claim.
      const district = staff.role === 'agent' ? undefined : (staff.district_code ?? undefined);
      const token = await mintToken(
        ctx.jwtSecret,
        ctx.config.jwt.issuer,
        { sub: staff.id, role: staff.role as ActorRole, district },
        `${STAFF_TOKEN_TTL_SECONDS}s`,
      );
      ctx.logger.info({ staffId: staff.id, role: staff.role }, 'staff signed in');
      res
        .status(201)
        .set('Cache-Control', 'no-store')
        .json({
          accessToken: token,
          tokenType: 'Bearer',
          expiresIn: STAFF_TOKEN_TTL_SECONDS,
          staffId: staff.id,
          role: staff.role,
          districtCode: district,
        });
    }),
  );

  return router;
}
