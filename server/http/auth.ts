import { timingSafeEqual, createHash } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { PERSON_ROLES, type Role } from '../hearing/roles.ts';

export interface TokenClaims {
  hearingId: string;
  participantId: string;
  role: Role;
  /** When the token expires (unix seconds), as verified. */
  expiresAt?: number;
}

const ISSUER = 'hearing-media-core';
const AUDIENCE = 'hearing-participant';

/** Participant tokens: HS256 JWTs carrying hearing, participant and role, with an expiry. */
export class TokenIssuer {
  constructor(
    private readonly secret: Uint8Array,
    private readonly ttlSeconds: number,
  ) {}

  async issue(claims: TokenClaims, ttlSeconds = this.ttlSeconds): Promise<{ token: string; expiresAt: string }> {
    const exp = Math.floor(Date.now() / 1000) + ttlSeconds;
    const token = await new SignJWT({ hid: claims.hearingId, role: claims.role })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.participantId)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(exp)
      .sign(this.secret);
    return { token, expiresAt: new Date(exp * 1000).toISOString() };
  }

  /** Verifies signature, issuer, audience and expiry; throws AuthError with the reason. */
  async verify(token: string): Promise<TokenClaims> {
    try {
      const { payload } = await jwtVerify(token, this.secret, { issuer: ISSUER, audience: AUDIENCE, algorithms: ['HS256'] });
      const role = payload.role as Role;
      if (typeof payload.sub !== 'string' || typeof payload.hid !== 'string' || !(PERSON_ROLES as readonly string[]).includes(role)) {
        throw new AuthError('token_invalid', 'token claims are incomplete');
      }
      return {
        hearingId: payload.hid,
        participantId: payload.sub,
        role,
        ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp } : {}),
      };
    } catch (error) {
      if (error instanceof AuthError) throw error;
      if (error instanceof joseErrors.JWTExpired) throw new AuthError('token_expired', 'token has expired');
      throw new AuthError('token_invalid', 'token is not valid');
    }
  }
}

export class AuthError extends Error {
  constructor(
    readonly code: 'token_missing' | 'token_invalid' | 'token_expired' | 'forbidden',
    message: string,
  ) {
    super(message);
    this.name = 'AuthError';
  }
}

/** Constant-time comparison of a presented API key with the configured one. */
export function apiKeyMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
