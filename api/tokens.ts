import { stat, readFile } from 'node:fs/promises';
import { createLocalJWKSet, decodeJwt, errors as joseErrors, JWTPayload, jwtVerify, SignJWT } from 'jose';
import { jwksSchema, JsonWebKeySet, TrustedIssuer } from '../domain/secrets-config';

/*
 * Verification of bearer tokens from several issuers. The local issuer signs
 * HS256 tokens with TIMEBANK_JWT_SECRET: staff sessions, and the tokens that
 * scripts/token.ts mints for the demo and tests. Upstream issuers (the city's
 * identity services) sign tokens for elders and volunteers with keys they
 * publish as a JWKS, and may assert no other role.
 */

/** Signature algorithms accepted from upstream issuers; HS256 is for the local issuer only. */
const UPSTREAM_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

/** Roles an upstream issuer may assert. */
export const UPSTREAM_ROLES = ['elder', 'volunteer'];

/** Allowed clock difference between an issuer and this service, in seconds. */
const CLOCK_TOLERANCE_SECONDS = 30;

/** How often a JWKS file is checked for changes, so a rotated key set applies without a restart. */
const JWKS_FILE_CHECK_MS = 5_000;

/** A token failed verification. The message gives the reason and never contains the token. */
export class TokenRejected extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenRejected';
  }
}

export interface VerifiedToken {
  issuer: string;
  /** True for a token of an upstream issuer, false for the local issuer. */
  upstream: boolean;
  payload: JWTPayload;
}

type KeySetFunction = ReturnType<typeof createLocalJWKSet>;

/** A JWKS read from a file and read again when the file changes. */
class FileKeySet {
  private keySet?: KeySetFunction;
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(
    readonly issuer: string,
    readonly file: string,
    private readonly onReloadError: (err: Error) => void,
  ) {}

  async current(): Promise<KeySetFunction> {
    const now = Date.now();
    if (this.keySet && now - this.checkedAt < JWKS_FILE_CHECK_MS) return this.keySet;
    this.checkedAt = now;
    try {
      const info = await stat(this.file);
      if (!this.keySet || info.mtimeMs !== this.mtimeMs) {
        this.keySet = createLocalJWKSet(await readJwksFile(this.file));
        this.mtimeMs = info.mtimeMs;
      }
    } catch (err) {
      // A key set that was valid before stays in use while the file is being replaced or is broken.
      if (!this.keySet) throw err;
      this.onReloadError(err as Error);
    }
    return this.keySet;
  }
}

async function readJwksFile(file: string): Promise<JsonWebKeySet> {
  const parsed = jwksSchema.safeParse(JSON.parse(await readFile(file, 'utf8')));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`${file}: not a public JWKS (${first.path.join('.')}: ${first.message})`);
  }
  return parsed.data;
}

export interface TokenVerifierOptions {
  localIssuer: string;
  localSecret: string;
  trustedIssuers: TrustedIssuer[];
  /** Called when a changed JWKS file cannot be read; the previous keys stay in use. */
  onKeyReloadError?: (issuer: string, err: Error) => void;
}

export class TokenVerifier {
  private readonly localKey: Uint8Array;
  private readonly upstream = new Map<string, () => Promise<KeySetFunction>>();

  constructor(private readonly options: TokenVerifierOptions) {
    this.localKey = new TextEncoder().encode(options.localSecret);
    for (const trusted of options.trustedIssuers) {
      if ('jwks' in trusted) {
        const keySet = createLocalJWKSet(trusted.jwks);
        this.upstream.set(trusted.issuer, async () => keySet);
      } else {
        const file = new FileKeySet(trusted.issuer, trusted.jwksFile, (err) =>
          options.onKeyReloadError?.(trusted.issuer, err),
        );
        this.upstream.set(trusted.issuer, () => file.current());
      }
    }
  }

  /** Verifies signature, issuer and expiry; throws TokenRejected with the reason. */
  async verify(token: string): Promise<VerifiedToken> {
    let issuer: string | undefined;
    try {
      issuer = decodeJwt(token).iss;
    } catch {
      throw new TokenRejected('not a JWT');
    }
    if (!issuer) throw new TokenRejected('the token names no issuer (iss)');

    if (issuer === this.options.localIssuer) {
      const payload = await this.check(() =>
        jwtVerify(token, this.localKey, {
          issuer,
          algorithms: ['HS256'],
          requiredClaims: ['exp', 'sub'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
        }),
      );
      return { issuer, upstream: false, payload };
    }

    const keySet = this.upstream.get(issuer);
    if (!keySet) throw new TokenRejected(`issuer ${JSON.stringify(issuer.slice(0, 100))} is not trusted`);
    let keys: KeySetFunction;
    try {
      keys = await keySet();
    } catch {
      throw new TokenRejected(`the keys of issuer ${issuer} are not available`);
    }
    const payload = await this.check(() =>
      jwtVerify(token, keys, {
        issuer,
        algorithms: UPSTREAM_ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }),
    );
    return { issuer, upstream: true, payload };
  }

  private async check(run: () => Promise<{ payload: JWTPayload }>): Promise<JWTPayload> {
    try {
      return (await run()).payload;
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenRejected('the token has expired');
      if (err instanceof joseErrors.JWKSNoMatchingKey) throw new TokenRejected('no key of the issuer matches the token');
      if (err instanceof joseErrors.JOSEError) throw new TokenRejected(err.message);
      throw err;
    }
  }
}

export interface TokenClaims {
  sub: string;
  role: string;
  district?: string;
}

/** Signs a local-issuer HS256 token; `ttl` is a jose time span such as '15m' or '12h'. */
export async function signLocalToken(secret: string, issuer: string, claims: TokenClaims, ttl: string): Promise<string> {
  return new SignJWT({ role: claims.role, ...(claims.district ? { district: claims.district } : {}) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuer(issuer)
    .setIssuedAt()
    .setExpirationTime(ttl)
    .sign(new TextEncoder().encode(secret));
}
