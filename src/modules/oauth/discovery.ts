// Authorization server metadata (RFC 8414, OpenID Connect Discovery). The metadata's `issuer`
// must equal the issuer it was fetched for, or it is refused (mix-up defence). Every URL in it
// passes the outbound policy before it is used, like a URL a caller entered.
import { z } from "zod";
import { type Outbound, OutboundRefusedError } from "../../lib/outbound.js";

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
    /** ENDPOINT_NOT_ALLOWED when the policy refused the issuer or a URL in its metadata. */
    readonly code: "ENDPOINT_NOT_ALLOWED" | null = null,
  ) {
    super(message);
  }
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
): Promise<ServerMetadata> {
  const cache = cacheOf(outbound);
  const cached = cache.get(issuer);
  if (cached && Date.now() - cached.fetchedAt < cacheTtlMs) return cached.metadata;
  const deadline = AbortSignal.timeout(timeoutMs);
  for (const url of wellKnownUrls(issuer)) {
    if (deadline.aborted) break;
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
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      continue;
    }
    // The outbound path cuts the body at its size cap; an oversized document fails to parse.
    const parsed = metadataSchema.safeParse(await response.json().catch(() => null));
    if (!parsed.success) continue;
    if (parsed.data.issuer.replace(/\/+$/, "") !== issuer.replace(/\/+$/, "")) {
      throw new DiscoveryError("the authorization server metadata names a different issuer");
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
  throw new DiscoveryError("the authorization server metadata could not be fetched");
}

export type Endpoints = {
  authorizationUrl: string | null;
  tokenUrl: string | null;
  revocationUrl: string | null;
  issuer: string | null;
  jwksUri: string | null;
  issParameterSupported: boolean;
};

/** The credential's own endpoints, completed from the issuer's metadata when it has an issuer. */
export async function resolveEndpoints(
  outbound: Outbound,
  settings: {
    issuer: string | null;
    authorizationUrl: string | null;
    tokenUrl: string | null;
    revocationUrl: string | null;
  },
  timeoutMs: number,
): Promise<Endpoints> {
  const own = {
    authorizationUrl: settings.authorizationUrl,
    tokenUrl: settings.tokenUrl,
    revocationUrl: settings.revocationUrl,
    issuer: settings.issuer,
    jwksUri: null,
    issParameterSupported: false,
  };
  if (!settings.issuer) return own;
  let metadata: ServerMetadata;
  try {
    metadata = await discover(outbound, settings.issuer, timeoutMs);
  } catch (error) {
    // With both endpoints configured, metadata only adds the id_token keys and the iss flag.
    // Metadata for another issuer, or with URLs the policy refuses, is reported all the same.
    if (
      settings.authorizationUrl &&
      settings.tokenUrl &&
      !(
        error instanceof DiscoveryError &&
        (error.message.includes("different") || error.code === "ENDPOINT_NOT_ALLOWED")
      )
    ) {
      return own;
    }
    throw error;
  }
  return {
    authorizationUrl: settings.authorizationUrl ?? metadata.authorizationEndpoint,
    tokenUrl: settings.tokenUrl ?? metadata.tokenEndpoint,
    revocationUrl: settings.revocationUrl ?? metadata.revocationEndpoint,
    issuer: settings.issuer,
    jwksUri: metadata.jwksUri,
    issParameterSupported: metadata.issParameterSupported,
  };
}
