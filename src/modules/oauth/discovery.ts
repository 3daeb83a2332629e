// Authorization server metadata (RFC 8414, OpenID Connect Discovery). The metadata's `issuer`
// must equal the issuer it was fetched for, or it is refused (mix-up defence).
import { z } from "zod";

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
const cache = new Map<string, { metadata: ServerMetadata; fetchedAt: number }>();

function wellKnownUrls(issuer: string): string[] {
  const url = new URL(issuer);
  const path = url.pathname.replace(/\/+$/, "");
  // RFC 8414 inserts the well-known segment before the path; OpenID appends it.
  return [
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
    `${url.origin}${path}/.well-known/openid-configuration`,
  ];
}

export async function discover(issuer: string, timeoutMs: number): Promise<ServerMetadata> {
  const cached = cache.get(issuer);
  if (cached && Date.now() - cached.fetchedAt < cacheTtlMs) return cached.metadata;
  for (const url of wellKnownUrls(issuer)) {
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { accept: "application/json" },
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch {
      continue;
    }
    if (!response.ok) continue;
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
    metadata = await discover(settings.issuer, timeoutMs);
  } catch (error) {
    // With both endpoints configured, metadata only adds the id_token keys and the iss flag.
    if (
      settings.authorizationUrl &&
      settings.tokenUrl &&
      !(error instanceof DiscoveryError && error.message.includes("different"))
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
