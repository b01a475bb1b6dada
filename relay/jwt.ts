// Verification of the `/lobby?token=` JWT (PROTOCOL.md): HS256 only, constant-time signature check,
// issuer, expiry with leeway, required claims. Pure apart from node:crypto; the clock is a parameter.
import crypto from 'node:crypto';
import { TOKEN_ALGORITHM, TOKEN_EXP_LEEWAY_S, TOKEN_ISSUER, TOKEN_NBF_LEEWAY_S, nameProblem } from '../protocol';

export interface LobbyClaims {
  userId: string;
  room: string;
  roomJoin: boolean;
  isHost: boolean;
  displayName: string;
  observer: boolean;
  exp: number;
}

export type TokenResult =
  | { ok: true; claims: LobbyClaims }
  /** `status` is the HTTP answer to the upgrade; `reason` never contains the token. */
  | { ok: false; status: 400 | 401 | 403 | 500; reason: string };

const B64URL = /^[A-Za-z0-9_-]*$/;

function decodePart(part: string): Buffer | undefined {
  if (!B64URL.test(part)) return undefined;
  return Buffer.from(part, 'base64url');
}

function parseJsonObject(part: string): Record<string, unknown> | undefined {
  const bytes = decodePart(part);
  if (bytes === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(bytes.toString('utf8'));
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const deny = (reason: string): TokenResult => ({ ok: false, status: 403, reason });

/**
 * `token` as taken from the query string (undefined when absent), `secret` from JWT_SECRET,
 * `nowSeconds` the current Unix time.
 */
export function verifyLobbyToken(token: string | undefined, secret: string | undefined, nowSeconds: number): TokenResult {
  if (secret === undefined || secret === '') return { ok: false, status: 500, reason: 'token authentication is not configured (JWT_SECRET unset)' };
  if (token === undefined || token === '') return { ok: false, status: 400, reason: 'missing token' };

  const parts = token.split('.');
  if (parts.length !== 3) return deny('malformed token');
  const [headerPart, payloadPart, signaturePart] = parts;
  const header = parseJsonObject(headerPart);
  if (header === undefined) return deny('malformed token header');
  // Exactly HS256: this rejects `none`, other HMAC sizes and asymmetric algorithms alike.
  if (header.alg !== TOKEN_ALGORITHM) return deny(`token algorithm must be ${TOKEN_ALGORITHM}`);

  const signature = decodePart(signaturePart);
  if (signature === undefined) return deny('malformed token signature');
  const expected = crypto.createHmac('sha256', secret).update(`${headerPart}.${payloadPart}`).digest();
  if (signature.length !== expected.length || !crypto.timingSafeEqual(signature, expected)) return deny('bad token signature');

  const claims = parseJsonObject(payloadPart);
  if (claims === undefined) return deny('malformed token payload');
  if (claims.iss !== TOKEN_ISSUER) return deny('wrong token issuer');
  if (typeof claims.exp !== 'number' || !Number.isFinite(claims.exp)) return deny('token claim exp missing');
  if (nowSeconds > claims.exp + TOKEN_EXP_LEEWAY_S) return { ok: false, status: 401, reason: 'token expired' };
  // `nbf` is optional (RFC 7519 §4.1.5); when present a token is refused before it, like an expired one.
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || !Number.isFinite(claims.nbf))) return deny('token claim nbf must be a number');
  if (typeof claims.nbf === 'number' && nowSeconds < claims.nbf - TOKEN_NBF_LEEWAY_S) return { ok: false, status: 401, reason: 'token not valid yet (nbf)' };

  const missing = (
    [
      ['sub', 'string'],
      ['room', 'string'],
      ['room_join', 'boolean'],
      ['is_host', 'boolean'],
      ['display_name', 'string'],
    ] as const
  ).filter(([name, type]) => typeof claims[name] !== type);
  if (missing.length > 0) return deny(`token claims missing or mistyped: ${missing.map(([n]) => n).join(', ')}`);
  if (claims.observer !== undefined && typeof claims.observer !== 'boolean') return deny('token claim observer must be a boolean');
  if ((claims.sub as string).length === 0) return deny('token claim sub is empty');

  const observer = claims.observer === true;
  if (!(claims.room_join === true || observer)) return deny('token does not allow joining the room');
  // The same name rules as /lobby/{user_id}/{room}: `room` is a NATS subject token, and both are bounded.
  const bad = nameProblem('room', claims.room as string) ?? nameProblem('user id', claims.sub as string, false);
  if (bad !== undefined) return { ok: false, status: 400, reason: `token claim ${bad}` };

  return {
    ok: true,
    claims: {
      userId: claims.sub as string,
      room: claims.room as string,
      roomJoin: claims.room_join as boolean,
      isHost: claims.is_host as boolean,
      displayName: claims.display_name as string,
      observer,
      exp: claims.exp,
    },
  };
}
