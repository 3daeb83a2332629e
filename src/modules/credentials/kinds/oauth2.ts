// OAuth 2.0 authorization code (with PKCE): created PENDING_AUTHORIZATION, or ACTIVE when
// existing tokens are imported.
import { z } from "zod";
import type { Prisma } from "../../../generated/prisma/client.js";
import type { Logger } from "../../../lib/logger.js";
import { type Outbound, OutboundRefusedError } from "../../../lib/outbound.js";
import { authMethodOf, type ProviderEntry } from "../../catalog/catalog.js";
import { sendVerifyRequest, type VerificationCode } from "../../catalog/verify.js";
import { DiscoveryError, resolveEndpoints } from "../../oauth/discovery.js";
import {
  grantedScopesOf,
  insufficientScopesMessage,
  missingScopesOf,
  scopeSpellingFor,
} from "../../oauth/scopes.js";
import {
  encodeClientCredentialsForBasic,
  requestToken,
  type TokenResponse,
} from "../../oauth/token-client.js";
import { CredentialProviderError } from "../credentials.errors.js";
import { expiryFrom } from "../token-store.js";
import type {
  KindCheck,
  KindCreation,
  ProviderContext,
  SecretEndpoints,
  TokenEndpointAuthMethod,
  TokenGrant,
  ValidationContext,
  Verified,
} from "./common.js";
import {
  clientAuthOf,
  headerSecretValue,
  scopeList,
  secretValue,
  shortText,
  singleLine,
  tokenEndpointAuthMethods,
  urlSchema,
} from "./common.js";

export const oauth2Settings = z.object({
  clientId: z.string(),
  issuer: z.string().nullable().default(null),
  authorizationUrl: z.string().nullable().default(null),
  tokenUrl: z.string().nullable().default(null),
  revocationUrl: z.string().nullable().default(null),
  scopes: z.array(z.string()).default([]),
  grantedScopes: z.array(z.string()).default([]),
  /** Requested scopes the last grant lacks (the credential is DEGRADED, INSUFFICIENT_SCOPES). */
  missingScopes: z.array(z.string()).default([]),
  extraAuthorizationParams: z.record(z.string(), z.string()).default({}),
  usePkce: z.boolean().default(true),
  tokenEndpointAuthMethod: z.enum(tokenEndpointAuthMethods).default("CLIENT_SECRET_BASIC"),
  audience: z.string().nullable().default(null),
  accountId: z.string().nullable().default(null),
  /** The catalog provider's scope separator and spellings, kept when the credential was made. */
  providerScopes: z
    .object({
      separator: z.string(),
      responseSeparator: z.string().nullable(),
      aliases: z.record(z.string(), z.string()),
    })
    .nullable()
    .default(null),
  /** Which token-response fields the catalog provider keeps, and where its account id is. */
  tokenResponseFields: z
    .object({ keep: z.array(z.string()), accountId: z.string().nullable() })
    .nullable()
    .default(null),
  /** The kept token-response fields (Salesforce `instance_url`, Slack `team.id`). */
  providerData: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}),
  /** The endpoints last read from the issuer's metadata (see oauth/discovery). */
  discovered: z
    .object({
      authorizationUrl: z.string().nullable(),
      tokenUrl: z.string().nullable(),
      revocationUrl: z.string().nullable(),
      jwksUri: z.string().nullable(),
      issParameterSupported: z.boolean(),
      discoveredAt: z.string(),
    })
    .nullable()
    .default(null),
});
export type OAuth2Settings = z.infer<typeof oauth2Settings>;

/** The endpoints in use: configured ones first, then what discovery found. */
export function effectiveEndpoints(settings: OAuth2Settings) {
  return {
    authorizationUrl: settings.authorizationUrl ?? settings.discovered?.authorizationUrl ?? null,
    tokenUrl: settings.tokenUrl ?? settings.discovered?.tokenUrl ?? null,
    revocationUrl: settings.revocationUrl ?? settings.discovered?.revocationUrl ?? null,
  };
}

const extraParams = z
  .record(
    z
      .string()
      .min(1)
      .max(100)
      .regex(/^[A-Za-z0-9._~-]+$/, "must be a plain parameter name"),
    z.string().max(1000).superRefine(singleLine),
  )
  .refine((value) => Object.keys(value).length <= 30, "must have at most 30 parameters")
  .refine(
    (value) =>
      !Object.keys(value).some((key) =>
        [
          "state",
          "code_challenge",
          "code_challenge_method",
          "redirect_uri",
          "client_id",
          "response_type",
        ].includes(key),
      ),
    "must not set parameters keyport controls (state, PKCE, redirect_uri, client_id, response_type)",
  );

const settingsFields = (context: ValidationContext) => ({
  clientId: shortText(512),
  issuer: urlSchema(context).nullish(),
  authorizationUrl: urlSchema(context).nullish(),
  tokenUrl: urlSchema(context).nullish(),
  revocationUrl: urlSchema(context).nullish(),
  scopes: scopeList.nullish(),
  extraAuthorizationParams: extraParams.nullish(),
  usePkce: z.boolean().nullish(),
  tokenEndpointAuthMethod: z.enum(tokenEndpointAuthMethods).nullish(),
  audience: shortText(512).nullish(),
});

export const oauth2CreateInput = (context: ValidationContext) =>
  z
    .object({
      ...settingsFields(context),
      clientSecret: secretValue.nullish(),
      accessToken: headerSecretValue.nullish(),
      refreshToken: secretValue.nullish(),
      expiresAt: z.date().nullish(),
    })
    .superRefine((input, ctx) => {
      const problem = endpointProblem(input);
      if (problem)
        ctx.addIssue({ code: "custom", path: [problem.field], message: problem.message });
    });

export const oauth2UpdateInput = (context: ValidationContext) =>
  z.object({ ...settingsFields(context), clientSecret: secretValue.nullish() }).partial();

// The client secret and the tokens go to the token and revocation endpoints, and to whatever the
// issuer's metadata names. Tokens issued by the old server are dropped (and revoked there): the
// credential must be authorized again against the new one.
export const oauth2SecretEndpoints: SecretEndpoints<OAuth2Settings> = {
  // Compared as in use, so writing back a discovered endpoint as configured changes nothing.
  endpoints: (settings) => {
    const { tokenUrl, revocationUrl } = effectiveEndpoints(settings);
    return { tokenUrl, revocationUrl, issuer: settings.issuer };
  },
  secrets: ["clientSecret"],
  discard: ["accessToken", "refreshToken"],
  afterChange: (settings) => ({
    settings: {
      ...settings,
      grantedScopes: [],
      missingScopes: [],
      accountId: null,
      discovered: null,
    },
    status: "PENDING_AUTHORIZATION",
  }),
};

export const oauth2SecretFields = ["clientSecret", "accessToken", "refreshToken"] as const;

/** Either an issuer to discover endpoints from, or both endpoints. */
export function endpointProblem(settings: {
  issuer?: string | null;
  authorizationUrl?: string | null;
  tokenUrl?: string | null;
}): { field: string; message: string } | null {
  if (settings.issuer) return null;
  if (!settings.authorizationUrl) {
    return { field: "authorizationUrl", message: "is required unless an issuer is given" };
  }
  if (!settings.tokenUrl)
    return { field: "tokenUrl", message: "is required unless an issuer is given" };
  return null;
}

export function createOAuth2(
  input: z.infer<ReturnType<typeof oauth2CreateInput>>,
): KindCreation<OAuth2Settings> {
  const secrets: Record<string, string> = {};
  if (input.clientSecret) secrets.clientSecret = input.clientSecret;
  if (input.accessToken) secrets.accessToken = input.accessToken;
  if (input.refreshToken) secrets.refreshToken = input.refreshToken;
  const imported = Boolean(input.accessToken || input.refreshToken);
  return {
    settings: {
      clientId: input.clientId,
      issuer: input.issuer ?? null,
      authorizationUrl: input.authorizationUrl ?? null,
      tokenUrl: input.tokenUrl ?? null,
      revocationUrl: input.revocationUrl ?? null,
      scopes: input.scopes ?? [],
      grantedScopes: imported ? (input.scopes ?? []) : [],
      missingScopes: [],
      extraAuthorizationParams: input.extraAuthorizationParams ?? {},
      usePkce: input.usePkce ?? true,
      tokenEndpointAuthMethod: (input.tokenEndpointAuthMethod ??
        "CLIENT_SECRET_BASIC") as TokenEndpointAuthMethod,
      audience: input.audience ?? null,
      accountId: null,
      providerScopes: null,
      tokenResponseFields: null,
      providerData: {},
      discovered: null,
    },
    secrets,
    status: imported ? "ACTIVE" : "PENDING_AUTHORIZATION",
    expiresAt: input.expiresAt ?? null,
  };
}

/** Endpoints, with a failed discovery reported as the provider being unavailable. */
export async function endpointsOrProviderError(
  outbound: Outbound,
  settings: Parameters<typeof resolveEndpoints>[1],
  timeoutMs: number,
  options: Parameters<typeof resolveEndpoints>[3] = {},
) {
  try {
    return await resolveEndpoints(outbound, settings, timeoutMs, options);
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw error;
    throw new CredentialProviderError(
      error.code,
      `Authorization server metadata: ${error.message}.`,
    );
  }
}

/**
 * Verify on create: with an issuer, its metadata is read now, so a typo or an unreachable issuer
 * is reported before anything is stored, and the endpoints it names are kept and shown.
 */
export async function verifyOAuth2(
  creation: KindCreation<OAuth2Settings>,
  context: ProviderContext,
): Promise<Verified<OAuth2Settings>> {
  const settings = creation.settings;
  if (!settings.issuer) return { creation, verified: false };
  const endpoints = await endpointsOrProviderError(
    context.outbound,
    settings,
    context.timeoutMs,
    // Both endpoints configured: the metadata only adds keys and flags, and may be absent.
    { fresh: !(settings.authorizationUrl && settings.tokenUrl) },
  );
  return {
    creation: { ...creation, settings: { ...settings, discovered: endpoints.discovered } },
    verified: false,
  };
}

/**
 * Scopes after a successful refresh. A response without `scope` grants what was granted before
 * (RFC 6749 §5.1, §6), so granted and missing scopes stay as they are. A response with one
 * replaces the granted scopes, and a missing scope is cleared only when it now shows up granted.
 * While any scope is missing the credential stays DEGRADED (INSUFFICIENT_SCOPES): the token
 * works for what was granted.
 */
export function scopesAfterRefresh(
  settings: OAuth2Settings,
  token: Pick<TokenResponse, "scope">,
  providerKey: string | null,
): { settings: OAuth2Settings; reason: { code: string; message: string } | null } {
  let next = settings;
  if (token.scope) {
    const granted = grantedScopesOf(token.scope, settings.grantedScopes, settings.providerScopes);
    const stillMissing = missingScopesOf(
      settings.missingScopes,
      granted,
      scopeSpellingFor(providerKey, settings.providerScopes),
    );
    next = { ...settings, grantedScopes: granted, missingScopes: stillMissing };
  }
  const reason =
    next.missingScopes.length > 0
      ? { code: "INSUFFICIENT_SCOPES", message: insufficientScopesMessage(next.missingScopes) }
      : null;
  return { settings: next, reason };
}

/**
 * Inside the refresh's transaction, after its fenced write (which holds the row): records the
 * scopes a refresh response grants and returns the INSUFFICIENT_SCOPES reason while any are
 * missing, writing that status. Settings are read again here, so a concurrent settings update
 * that committed first is kept.
 */
async function writeScopesAfterRefresh(
  tx: Prisma.TransactionClient,
  credentialId: string,
  token: Pick<TokenResponse, "scope">,
): Promise<{ code: string; message: string } | null> {
  const current = await tx.credential.findUniqueOrThrow({
    where: { id: credentialId },
    select: { settings: true, providerKey: true },
  });
  const before = oauth2Settings.parse(current.settings ?? {});
  const { settings, reason } = scopesAfterRefresh(before, token, current.providerKey);
  if (settings !== before || reason) {
    await tx.credential.update({
      where: { id: credentialId },
      data: {
        ...(settings !== before ? { settings } : {}),
        ...(reason
          ? {
              status: "DEGRADED",
              statusReasonCode: reason.code,
              statusReasonMessage: reason.message,
            }
          : {}),
      },
    });
  }
  return reason;
}

/** The refresh-token grant (RFC 6749 §6). */
export const oauth2TokenGrant: TokenGrant<OAuth2Settings> = {
  action: "refresh",
  accessTokenField: "accessToken",
  secrets: ["clientSecret", "refreshToken"],
  canRefresh: (_settings, stored) => stored.has("refreshToken"),
  async obtain(settings, secrets, context) {
    const { tokenUrl } = await endpointsOrProviderError(
      context.outbound,
      settings,
      context.timeoutMs,
    );
    if (!tokenUrl) {
      throw new CredentialProviderError(
        "AUTHORIZATION_FAILED",
        "The credential has no token endpoint.",
      );
    }
    const { token, attempts } = await requestToken(
      {
        outbound: context.outbound,
        tokenUrl,
        parameters: { grant_type: "refresh_token", refresh_token: secrets.refreshToken ?? "" },
        client: clientAuthOf(settings, secrets.clientSecret ?? null),
        timeoutMs: context.timeoutMs,
        maxAttempts: context.maxAttempts,
      },
      context.sleep ? { sleep: context.sleep } : {},
    );
    // A response without a refresh token keeps the stored one.
    const rotated: Record<string, string> = token.refreshToken
      ? { refreshToken: token.refreshToken }
      : {};
    return {
      secrets: { accessToken: token.accessToken, ...rotated },
      expiresAt: expiryFrom(token),
      attempts,
      updated: ["accessToken", ...Object.keys(rotated), ...(token.expiresIn ? ["expiresAt"] : [])],
      afterWrite: (tx, credentialId) => writeScopesAfterRefresh(tx, credentialId, token),
    };
  },
  // The grant is gone; keeping its refresh token could only trip another refusal.
  dropOnRevokedGrant: ["refreshToken"],
  keepAlive: true,
  sweepWhere: {
    kind: "OAUTH2",
    secrets: { some: { field: "refreshToken", retainUntil: null } },
  },
};

export type RevocationOutcome = "revoked" | "failed" | "skipped";

/** Token revocation (RFC 7009) when the credential is deleted. Best effort, never throws. */
export async function revokeOAuth2(
  settings: OAuth2Settings,
  decrypt: (field: string) => Promise<string | null>,
  context: ProviderContext & {
    logger: Pick<Logger, "warn">;
    credentialId: string;
  },
): Promise<RevocationOutcome> {
  const { logger, credentialId } = context;
  try {
    const endpoints = await resolveEndpoints(context.outbound, settings, context.timeoutMs);
    const refreshToken = await decrypt("refreshToken");
    const token = refreshToken ?? (await decrypt("accessToken"));
    if (!endpoints.revocationUrl || !token) return "skipped";
    const clientSecret = await decrypt("clientSecret");
    const body = new URLSearchParams({
      token,
      token_type_hint: refreshToken ? "refresh_token" : "access_token",
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (clientSecret && settings.tokenEndpointAuthMethod === "CLIENT_SECRET_BASIC") {
      headers.authorization = encodeClientCredentialsForBasic(settings.clientId, clientSecret);
    } else {
      body.set("client_id", settings.clientId);
      if (clientSecret) body.set("client_secret", clientSecret);
    }
    const response = await context.outbound.fetch(endpoints.revocationUrl, {
      method: "POST",
      headers,
      body,
      timeoutMs: context.timeoutMs,
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return "revoked";
    logger.warn("token revocation refused", { credentialId, httpStatus: response.status });
    return "failed";
  } catch (error) {
    if (error instanceof OutboundRefusedError) {
      // The refusal names the host and the rule, never the path or the token.
      logger.warn("token revocation refused by the outbound policy", {
        credentialId,
        reason: error.message,
      });
      return "failed";
    }
    // The fetch error may describe the request; log only that it failed.
    logger.warn("token revocation failed", { credentialId });
    return "failed";
  }
}

export const oauth2AuditableSettings = [
  "clientId",
  "issuer",
  "authorizationUrl",
  "tokenUrl",
  "revocationUrl",
  "scopes",
  "usePkce",
  "tokenEndpointAuthMethod",
  "audience",
] as const;

/**
 * The dry call of a stored OAuth credential: the catalog's verify request with its access token,
 * or else its issuer's metadata; null with neither.
 */
export const checkOAuth2: KindCheck<OAuth2Settings> = (settings, secrets, context) => {
  const request = context.provider?.entry.verify;
  if (context.provider && request) {
    if (!secrets.accessToken) {
      return Promise.resolve({
        ok: false,
        code: "INVALID_CREDENTIALS",
        message: "The credential has no access token yet.",
        httpStatus: null,
        durationMs: 0,
        transient: false,
      });
    }
    return sendVerifyRequest(
      context.outbound,
      context.provider.entry,
      request,
      context.provider.connectionConfig,
      {
        headers: [{ name: "Authorization", value: `Bearer ${secrets.accessToken}` }],
        queryParameters: [],
        pathParameters: [],
      },
      context.timeoutMs,
    );
  }
  if (!settings.issuer) return null;
  return (async () => {
    const started = performance.now();
    try {
      await endpointsOrProviderError(context.outbound, settings, context.timeoutMs, {
        fresh: true,
      });
      return { ok: true as const, httpStatus: 200, durationMs: performance.now() - started };
    } catch (error) {
      if (!(error instanceof CredentialProviderError)) throw error;
      return {
        ok: false as const,
        code: error.code as VerificationCode,
        message: error.message,
        httpStatus: null,
        durationMs: performance.now() - started,
        transient: ["CONNECTION_REFUSED", "PROVIDER_UNAVAILABLE", "RATE_LIMITED"].includes(
          error.code,
        ),
      };
    }
  })();
};

/**
 * What a provider's catalog entry adds to an OAUTH2 credential's settings: how its scopes are
 * written and aliased, and which token-response fields are kept.
 */
export function oauth2ProviderSettings(entry: ProviderEntry): Record<string, unknown> {
  const method = authMethodOf(entry, "OAUTH2");
  if (!method) return {};
  return {
    providerScopes: {
      separator: entry.scopes.separator,
      responseSeparator: entry.scopes.responseSeparator ?? null,
      aliases: entry.scopes.aliases,
    },
    tokenResponseFields: {
      keep: method.tokenResponse.keep,
      accountId: method.tokenResponse.accountId ?? null,
    },
  };
}
