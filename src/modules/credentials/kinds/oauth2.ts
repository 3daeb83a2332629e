// OAuth 2.0 authorization code (with PKCE): created PENDING_AUTHORIZATION, or ACTIVE when
// existing tokens are imported.
import { z } from "zod";
import type {
  KindCreation,
  SecretEndpoints,
  TokenEndpointAuthMethod,
  ValidationContext,
} from "./common.js";
import {
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
      discovered: null,
    },
    secrets,
    status: imported ? "ACTIVE" : "PENDING_AUTHORIZATION",
    expiresAt: input.expiresAt ?? null,
  };
}
