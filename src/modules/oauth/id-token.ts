// Validating the id_token of an authorization-code exchange (OpenID Connect Core 3.1.3.7).
//
// With an issuer whose keys are known (a jwks_uri from its metadata), the signature is verified
// against those keys and a failure is final: that is what tells this issuer's tokens from
// anyone else's. Without them (endpoints entered directly, or metadata that could not be
// fetched), the token still came straight from the token endpoint keyport called itself, so
// TLS vouches for its origin and the signature may go unchecked (3.1.3.7 step 6, 3.1.3.8); the
// claims are checked all the same: aud, azp, nonce, exp, and iss when an issuer is known.
//
// Every failure is an IdTokenError with a fixed reason: neither the token nor any of its claim
// values is ever echoed.

import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  errors,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { asymmetricAlgorithms } from "../../lib/auth.js";
import type { Outbound } from "../../lib/outbound.js";

export class IdTokenError extends Error {
  override name = "IdTokenError";
}

/** Seconds of clock skew allowed on `exp`. */
export const idTokenClockToleranceSeconds = 30;

const signingAlgorithms = asymmetricAlgorithms;

export type IdTokenExpectations = {
  /** The issuer configured on the credential, or null for endpoints entered directly. */
  issuer: string | null;
  /** The issuer's jwks_uri from its metadata, or null when unknown. */
  jwksUri: string | null;
  clientId: string;
  /** The nonce sent in the authorization request, or null when none was sent. */
  nonce: string | null;
  timeoutMs: number;
  outbound: Outbound;
  now?: () => number;
};

/** Validates an id_token received from the token endpoint; returns its `sub`. */
export async function verifiedIdTokenSubject(
  idToken: string,
  expected: IdTokenExpectations,
): Promise<string> {
  const payload =
    expected.issuer && expected.jwksUri
      ? await verifySigned(idToken, expected.jwksUri, expected)
      : decodeUnsigned(idToken);
  return checkClaims(payload, expected);
}

const sameIssuer = (a: string, b: string) => a.replace(/\/+$/, "") === b.replace(/\/+$/, "");

/** The payload of a token signed with one of the issuer's keys; its claims are checked after. */
async function verifySigned(
  idToken: string,
  jwksUri: string,
  expected: IdTokenExpectations,
): Promise<JWTPayload> {
  const jwks = remoteKeySet(expected.outbound, jwksUri, expected.timeoutMs);
  try {
    const { payload } = await jwtVerify(idToken, jwks, {
      algorithms: signingAlgorithms,
      clockTolerance: idTokenClockToleranceSeconds,
      ...(expected.now ? { currentDate: new Date(expected.now()) } : {}),
    });
    return payload;
  } catch (error) {
    throw new IdTokenError(signedFailureReason(error));
  }
}

function signedFailureReason(error: unknown): string {
  if (
    error instanceof errors.JWKSNoMatchingKey ||
    error instanceof errors.JWKSMultipleMatchingKeys ||
    error instanceof errors.JWSSignatureVerificationFailed
  ) {
    return "it is not signed with a key the issuer publishes";
  }
  if (error instanceof errors.JWTExpired) return "it has expired";
  if (error instanceof errors.JOSEAlgNotAllowed) return "its signing algorithm is not accepted";
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JWTClaimValidationFailed ||
    error instanceof errors.JOSENotSupported
  ) {
    return "it is malformed";
  }
  // JWKSInvalid, JWKSTimeout, a non-200 or unparsable key set, or the outbound path's refusal.
  return "the issuer's keys could not be fetched";
}

function decodeUnsigned(idToken: string): JWTPayload {
  // Compact JWS only (three parts); decodeJwt refuses encrypted (five-part) tokens.
  if (idToken.length > 16_384 || idToken.split(".").length !== 3) {
    throw new IdTokenError("it is malformed");
  }
  try {
    return decodeJwt(idToken);
  } catch {
    throw new IdTokenError("it is malformed");
  }
}

function checkClaims(payload: JWTPayload, expected: IdTokenExpectations): string {
  const now = Math.floor((expected.now?.() ?? Date.now()) / 1000);
  // Trailing slashes aside, as the RFC 9207 check compares issuers.
  if (
    expected.issuer &&
    (typeof payload.iss !== "string" || !sameIssuer(payload.iss, expected.issuer))
  ) {
    throw new IdTokenError("it was issued by another issuer");
  }
  const audiences =
    typeof payload.aud === "string"
      ? [payload.aud]
      : Array.isArray(payload.aud) && payload.aud.every((a) => typeof a === "string")
        ? payload.aud
        : null;
  if (!audiences?.includes(expected.clientId)) {
    throw new IdTokenError("its audience does not include this client");
  }
  if (payload.azp !== undefined && payload.azp !== expected.clientId) {
    throw new IdTokenError("it was issued to another authorized party (azp)");
  }
  if (audiences.length > 1 && payload.azp === undefined) {
    throw new IdTokenError("it names several audiences but no authorized party (azp)");
  }
  if (typeof payload.exp !== "number" || !Number.isFinite(payload.exp)) {
    throw new IdTokenError("it has no expiry");
  }
  if (payload.exp + idTokenClockToleranceSeconds <= now) throw new IdTokenError("it has expired");
  if (expected.nonce !== null && payload.nonce !== expected.nonce) {
    throw new IdTokenError("its nonce does not match the authorization request");
  }
  // OpenID Connect Core §2: at most 255 ASCII characters.
  if (typeof payload.sub !== "string" || payload.sub === "" || payload.sub.length > 255) {
    throw new IdTokenError("it has no usable subject");
  }
  return payload.sub;
}

// Key sets per outbound policy and URL: jose caches the keys inside each one.
const jwksCaches = new WeakMap<Outbound, Map<string, ReturnType<typeof createRemoteJWKSet>>>();

function remoteKeySet(outbound: Outbound, jwksUri: string, timeoutMs: number) {
  let cache = jwksCaches.get(outbound);
  if (!cache) {
    cache = new Map();
    jwksCaches.set(outbound, cache);
  }
  let jwks = cache.get(jwksUri);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(jwksUri), {
      timeoutDuration: timeoutMs,
      // Through the outbound path: address policy, no redirects, size and time caps.
      [customFetch]: (url, options) =>
        outbound.fetch(url, { headers: options.headers, signal: options.signal, timeoutMs }),
    });
    cache.set(jwksUri, jwks);
  }
  return jwks;
}
