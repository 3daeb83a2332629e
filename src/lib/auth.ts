// Caller authentication primitives: scopes, API key material, and JWT verification.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import {
  createRemoteJWKSet,
  customFetch,
  type JWTPayload,
  type JWTVerifyGetKey,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import type { Outbound } from "./outbound.js";

/** The scopes API keys and JWTs can be granted. */
export const scopes = [
  "credentials:read",
  "credentials:write",
  "credentials:use",
  "connectors:read",
  "connectors:write",
  "admin",
  "platform",
] as const;
/**
 * `connect` is held only by connect-session callers (`kpcs_` tokens) and can never be granted to
 * an API key or claimed by a JWT: it admits the credential types and the few credential
 * mutations a browser needs, while the where clause (`credentialScope`) limits every row to the
 * session's end user, environment and providers.
 */
export type Scope = (typeof scopes)[number] | "connect";

/** What `admin` grants inside its workspace. `platform` is never implied. */
const adminGrants: Scope[] = [
  "credentials:read",
  "credentials:write",
  "credentials:use",
  "connectors:read",
  "connectors:write",
];

/** A grantable scope (never `connect`). */
export function isScope(value: string): value is (typeof scopes)[number] {
  return (scopes as readonly string[]).includes(value);
}

/** Expands `admin` into the scopes it implies; unknown names are dropped. */
export function effectiveScopes(granted: readonly string[]): Set<Scope> {
  const result = new Set<Scope>();
  for (const name of granted) {
    if (!isScope(name)) continue;
    result.add(name);
    if (name === "admin") for (const implied of adminGrants) result.add(implied);
  }
  return result;
}

export const apiKeyPrefix = "kp_";

/** A new API key: `kp_` + 32 random bytes (base64url). Scanners can match the prefix. */
export function generateApiKey(): { key: string; prefix: string; hash: string } {
  const key = `${apiKeyPrefix}${randomBytes(32).toString("base64url")}`;
  return { key, prefix: key.slice(0, 11), hash: hashApiKey(key) };
}

// Keys carry 256 bits of entropy, so a plain SHA-256 is enough; no slow hash is needed.
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export const connectTokenPrefix = "kpcs_";

/**
 * A new connect-session token: `kpcs_` + 32 random bytes (base64url). Its own prefix keeps it
 * from being mistaken for an API key, by people, scanners and keyport itself.
 */
export function generateConnectToken(): { token: string; hash: string } {
  const token = `${connectTokenPrefix}${randomBytes(32).toString("base64url")}`;
  return { token, hash: hashConnectToken(token) };
}

export function hashConnectToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export function looksLikeConnectToken(token: string): boolean {
  return /^kpcs_[A-Za-z0-9_-]{43}$/.test(token);
}

export function looksLikeApiKey(token: string): boolean {
  return token.startsWith(apiKeyPrefix) && /^kp_[A-Za-z0-9_-]{43}$/.test(token);
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

export type JwtClaims = {
  subject: string;
  workspaceSlug: string;
  scopes: string[];
  /** The `exp` claim (required), when the token stops being accepted. */
  expiresAt: Date;
};

export type JwtVerifierOptions = {
  secret?: string | undefined;
  jwksUrl?: string | undefined;
  issuer?: string | undefined;
  audience?: string | undefined;
  /** The outbound path the key set is fetched through (required with jwksUrl). */
  outbound?: Outbound | undefined;
  /** Deadline of one key set fetch (default 5 s). */
  jwksTimeoutMs?: number | undefined;
};

export class JwtRejected extends Error {
  override name = "JwtRejected";
}

const symmetricAlgorithms = ["HS256", "HS384", "HS512"];
/** Public-key JWS algorithms keyport accepts, for callers' JWTs and providers' id_tokens. */
export const asymmetricAlgorithms = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "EdDSA",
];
const clockToleranceSeconds = 10;

export type JwtVerifier = (token: string) => Promise<JwtClaims>;

/** Returns null when neither a secret nor a JWKS URL is configured: JWTs are then refused. */
export function createJwtVerifier(options: JwtVerifierOptions): JwtVerifier | null {
  let key: Uint8Array | JWTVerifyGetKey;
  let algorithms: string[];
  if (options.secret) {
    key = new TextEncoder().encode(options.secret);
    algorithms = symmetricAlgorithms;
  } else if (options.jwksUrl) {
    const { outbound } = options;
    if (!outbound) throw new Error("a JWKS URL needs the outbound path to fetch it through");
    const timeoutMs = options.jwksTimeoutMs ?? 5_000;
    key = createRemoteJWKSet(new URL(options.jwksUrl), {
      timeoutDuration: timeoutMs,
      cooldownDuration: 30_000,
      cacheMaxAge: 10 * 60_000,
      // Through the outbound path: address policy, no redirects, size and time caps.
      [customFetch]: (url, init) =>
        outbound.fetch(url, { headers: init.headers, signal: init.signal, timeoutMs }),
    });
    algorithms = asymmetricAlgorithms;
  } else {
    return null;
  }
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key as Uint8Array, {
        algorithms,
        requiredClaims: ["exp"],
        clockTolerance: clockToleranceSeconds,
        ...(options.issuer ? { issuer: options.issuer } : {}),
        ...(options.audience ? { audience: options.audience } : {}),
      }));
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw new JwtRejected(error.code);
      throw new JwtRejected("ERR_JWT_INVALID");
    }
    const workspace = payload.workspace;
    if (typeof workspace !== "string" || workspace === "") {
      throw new JwtRejected("missing workspace claim");
    }
    const scope = typeof payload.scope === "string" ? payload.scope : "";
    return {
      subject: typeof payload.sub === "string" ? payload.sub : "",
      workspaceSlug: workspace,
      scopes: scope.split(" ").filter(Boolean),
      expiresAt: new Date(Number(payload.exp) * 1000),
    };
  };
}
