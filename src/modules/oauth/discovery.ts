// Authorization server metadata (RFC 8414, OpenID Connect Discovery). The metadata's `issuer`
// must equal the issuer it was fetched for, or it is refused (mix-up defence). Every URL in it
// passes the outbound policy before it is used, like a URL a caller entered.
import { z } from "zod";
import { type Outbound, OutboundError, OutboundRefusedError } from "../../lib/outbound.js";

export type ServerMetadata = {
  issuer: string;
  authorizationEndpoint: string | null;
  tokenEndpoint: string | null;
  revocationEndpoint: string | null;
  jwksUri: string | null;
  issParameterSupported: boolean;
};

export class DiscoveryError extends Error {
  override name = "DiscoveryError";
  constructor(
    message: string,
    /**
     * ENDPOINT_NOT_ALLOWED: the policy refused the issuer or a URL in its metadata;
     * AUTHORIZATION_FAILED: the metadata names another issuer (mix-up defence);
     * PROVIDER_UNAVAILABLE: no metadata could be read (status, refused, timeout, not a document).
     */
    readonly code: "ENDPOINT_NOT_ALLOWED" | "AUTHORIZATION_FAILED" | "PROVIDER_UNAVAILABLE",
  ) {
    super(message);
  }
}

/** Why one well-known URL gave no metadata, in words fit for an error message. */
function failureOf(error: unknown, timeoutMs: number): string {
  if (error instanceof OutboundError) {
    switch (error.kind) {
      case "timeout":
        return `no answer within ${timeoutMs} ms`;
      case "redirect":
        return "a redirect, which is not followed";
      case "too_large":
        return "a response larger than 1 MiB";
      case "network":
        return "connection failed (refused, reset, TLS or DNS)";
    }
  }
  if (error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  return "connection failed";
}

const metadataSchema = z.object({
  issuer: z.string(),
  authorization_endpoint: z.string().optional(),
  token_endpoint: z.string().optional(),
  revocation_endpoint: z.string().optional(),
  jwks_uri: z.string().optional(),
  authorization_response_iss_parameter_supported: z.boolean().optional(),
});

const cacheTtlMs = 10 * 60_000;
type CacheEntry = { metadata: ServerMetadata; fetchedAt: number };
// One cache per outbound policy: metadata checked under one policy is not reused under another.
const caches = new WeakMap<Outbound, Map<string, CacheEntry>>();

function cacheOf(outbound: Outbound): Map<string, CacheEntry> {
  let cache = caches.get(outbound);
  if (!cache) {
    cache = new Map();
    caches.set(outbound, cache);
  }
  return cache;
}

const metadataUrlFields = [
  ["authorization_endpoint", "authorizationEndpoint"],
  ["token_endpoint", "tokenEndpoint"],
  ["revocation_endpoint", "revocationEndpoint"],
  ["jwks_uri", "jwksUri"],
] as const;

/** Refuses metadata with a URL the outbound policy refuses (the authorization endpoint too:
 * browsers are sent there, so it must be http(s), https in production). */
function checkMetadataUrls(outbound: Outbound, metadata: ServerMetadata): void {
  for (const [name, field] of metadataUrlFields) {
    const value = metadata[field];
    if (value === null) continue;
    const problem = outbound.urlProblem(value);
    if (problem) {
      // The host may be named; the URL itself is not echoed.
      const hostname = URL.canParse(value) ? new URL(value).hostname : "";
      const host = hostname ? ` (${hostname})` : "";
      throw new DiscoveryError(`the metadata's ${name}${host} ${problem}`, "ENDPOINT_NOT_ALLOWED");
    }
  }
}

function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, "");
  // RFC 8414 inserts the well-known segment before the path; OpenID appends it.
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

/** The issuer's metadata. `timeoutMs` bounds the whole discovery, every well-known URL tried. */
export async function discover(
  outbound: Outbound,
  issuer: string,
  timeoutMs: number,
  options: { fresh?: boolean } = {},
): Promise<ServerMetadata> {
  const cache = cacheOf(outbound);
  const cached = cache.get(issuer);
  if (!options.fresh && cached && Date.now() - cached.fetchedAt < cacheTtlMs) {
    return cached.metadata;
  }
  const deadline = AbortSignal.timeout(timeoutMs);
  // What each well-known URL answered, so a failure says what went wrong where.
  const failures: string[] = [];
  for (const url of wellKnownUrls(issuer)) {
    const where = new URL(url).pathname;
    if (deadline.aborted) {
      failures.push(`${where}: no answer within ${timeoutMs} ms`);
      break;
    }
    let response: Response;
    try {
      response = await outbound.fetch(url, {
        headers: { accept: "application/json" },
        signal: deadline,
        timeoutMs,
      });
    } catch (error) {
      if (error instanceof OutboundRefusedError) {
        throw new DiscoveryError(`issuer not allowed: ${error.message}`, "ENDPOINT_NOT_ALLOWED");
      }
      failures.push(`${where}: ${failureOf(error, timeoutMs)}`);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      failures.push(`${where}: HTTP ${response.status}`);
      continue;
    }
    // The outbound path cuts the body at its size cap; an oversized document fails to parse.
    const parsed = metadataSchema.safeParse(await response.json().catch(() => null));
    if (!parsed.success) {
      failures.push(`${where}: not a metadata document (invalid JSON, or no issuer)`);
      continue;
    }
    if (parsed.data.issuer.replace(/\/+$/, "") !== issuer.replace(/\/+$/, "")) {
      throw new DiscoveryError(
        `the metadata of issuer ${issuer} names a different issuer`,
        "AUTHORIZATION_FAILED",
      );
    }
    const metadata: ServerMetadata = {
      issuer: parsed.data.issuer,
      authorizationEndpoint: parsed.data.authorization_endpoint ?? null,
      tokenEndpoint: parsed.data.token_endpoint ?? null,
      revocationEndpoint: parsed.data.revocation_endpoint ?? null,
      jwksUri: parsed.data.jwks_uri ?? null,
      issParameterSupported: parsed.data.authorization_response_iss_parameter_supported === true,
    };
    checkMetadataUrls(outbound, metadata);
    cache.set(issuer, { metadata, fetchedAt: Date.now() });
    return metadata;
  }
  throw new DiscoveryError(
    `the metadata of issuer ${issuer} could not be read: ${failures.join("; ")}`,
    "PROVIDER_UNAVAILABLE",
  );
}

export type Endpoints = {
  authorizationUrl: string | null;
  tokenUrl: string | null;
  revocationUrl: string | null;
  issuer: string | null;
  jwksUri: string | null;
  issParameterSupported: boolean;
  /** The issuer's metadata as read now; null when it was not read (no issuer, or unreachable). */
  discovered: DiscoveredEndpoints | null;
};

/** What discovery found last, kept with the credential: shown to callers, and used while the
 * issuer's metadata cannot be read. */
export type DiscoveredEndpoints = {
  authorizationUrl: string | null;
  tokenUrl: string | null;
  revocationUrl: string | null;
  jwksUri: string | null;
  issParameterSupported: boolean;
  discoveredAt: string;
};

export function discoveredFrom(metadata: ServerMetadata): DiscoveredEndpoints {
  return {
    authorizationUrl: metadata.authorizationEndpoint,
    tokenUrl: metadata.tokenEndpoint,
    revocationUrl: metadata.revocationEndpoint,
    jwksUri: metadata.jwksUri,
    issParameterSupported: metadata.issParameterSupported,
    discoveredAt: new Date().toISOString(),
  };
}

/** The credential's own endpoints, completed from the issuer's metadata when it has an issuer. */
export async function resolveEndpoints(
  outbound: Outbound,
  settings: {
    issuer: string | null;
    authorizationUrl: string | null;
    tokenUrl: string | null;
    revocationUrl: string | null;
    discovered?: DiscoveredEndpoints | null;
  },
  timeoutMs: number,
  /** fresh: read the metadata now, not from the cache, and fail rather than fall back. */
  options: { fresh?: boolean } = {},
): Promise<Endpoints> {
  const own = {
    authorizationUrl: settings.authorizationUrl,
    tokenUrl: settings.tokenUrl,
    revocationUrl: settings.revocationUrl,
    issuer: settings.issuer,
    jwksUri: null,
    issParameterSupported: false,
    discovered: null,
  };
  if (!settings.issuer) return own;
  let metadata: ServerMetadata;
  let discovered: DiscoveredEndpoints | null = null;
  try {
    metadata = await discover(outbound, settings.issuer, timeoutMs, options);
    discovered = discoveredFrom(metadata);
  } catch (error) {
    if (options.fresh) throw error;
    // Metadata for another issuer, or with URLs the policy refuses, is always reported. Metadata
    // that cannot be read is not needed with both endpoints configured (it adds the id_token keys
    // and the iss flag), and what was discovered before still serves while the issuer is down.
    if (!(error instanceof DiscoveryError) || error.code !== "PROVIDER_UNAVAILABLE") throw error;
    const last = settings.discovered;
    if (last) {
      metadata = {
        issuer: settings.issuer,
        authorizationEndpoint: last.authorizationUrl,
        tokenEndpoint: last.tokenUrl,
        revocationEndpoint: last.revocationUrl,
        jwksUri: last.jwksUri,
        issParameterSupported: last.issParameterSupported,
      };
      checkMetadataUrls(outbound, metadata);
    } else if (settings.authorizationUrl && settings.tokenUrl) {
      return own;
    } else {
      throw error;
    }
  }
  return {
    authorizationUrl: settings.authorizationUrl ?? metadata.authorizationEndpoint,
    tokenUrl: settings.tokenUrl ?? metadata.tokenEndpoint,
    revocationUrl: settings.revocationUrl ?? metadata.revocationEndpoint,
    issuer: settings.issuer,
    jwksUri: metadata.jwksUri,
    issParameterSupported: metadata.issParameterSupported,
    discovered,
  };
}

/** Whether two discoveries found the same endpoints (when they were read aside). */
export function sameEndpoints(a: DiscoveredEndpoints | null, b: DiscoveredEndpoints | null) {
  if (a === null || b === null) return a === b;
  return (
    a.authorizationUrl === b.authorizationUrl &&
    a.tokenUrl === b.tokenUrl &&
    a.revocationUrl === b.revocationUrl &&
    a.jwksUri === b.jwksUri &&
    a.issParameterSupported === b.issParameterSupported
  );
}
