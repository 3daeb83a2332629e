// A static token (API key or bearer token) placed in a header, a query parameter or the URL path.
import { z } from "zod";
import { sendVerifyRequest } from "../../catalog/verify.js";
import {
  isPlaceholdersOnly,
  placeholdersIn,
  requestTemplateToken,
  type TemplatePlaceholder,
  type TemplateValues,
  type TokenTemplate,
  templatePlaceholders,
  templateUses,
} from "../../oauth/token-template.js";
import { CredentialProviderError } from "../credentials.errors.js";
import type {
  AuthMaterial,
  KindCheck,
  KindCreation,
  SecretEndpoints,
  TokenGrant,
  ValidationContext,
} from "./common.js";
import {
  headerSecretValue,
  headerValue,
  multilineText,
  rule,
  secretValue,
  shortText,
  singleLine,
  urlSchema,
} from "./common.js";

export const tokenPlacements = ["HEADER", "QUERY", "PATH"] as const;

const headerName = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a valid HTTP header name");
const scheme = z
  .string()
  .max(64, "must be at most 64 characters")
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]*$/, "must be a single word, or empty for none");
const parameterName = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[A-Za-z0-9._~-]+$/, "must be a plain URL parameter name");

const jsonPath = z
  .string()
  .min(1)
  .max(200)
  .superRefine(singleLine)
  .regex(/^(\$\.)?[^.\s]+(\.[^.\s]+)*$/, "must be a dotted JSON path, e.g. data.tokens.access");

/** Every {{placeholder}} a text uses must be one keyport fills in. */
const knownPlaceholders = rule((value) => {
  const unknown = placeholdersIn(value).filter(
    (name) => !(templatePlaceholders as readonly string[]).includes(name),
  );
  return unknown.length > 0
    ? `uses unknown placeholder {{${unknown[0]}}}; use ${templatePlaceholders.map((p) => `{{${p}}}`).join(", ")}`
    : null;
});

/** A token endpoint for bearer tokens that come from a non-standard refresh call. */
export const tokenRequestTemplate = (context: ValidationContext) =>
  z.object({
    endpoint: urlSchema(context).superRefine(knownPlaceholders),
    method: z.enum(["POST", "GET", "PUT"]).default("POST"),
    headers: z
      .array(
        z.object({ name: headerName, value: headerValue(4096).superRefine(knownPlaceholders) }),
      )
      .max(maxTemplateHeaders)
      .default([]),
    body: multilineText(16_384).superRefine(knownPlaceholders).nullish(),
    accessTokenPath: jsonPath,
    refreshTokenPath: jsonPath.nullish(),
    expiresInPath: jsonPath.nullish(),
    expiresAtPath: jsonPath.nullish(),
    accessTokenDurationMinutes: z.number().int().min(1).max(525_600).nullish(),
  });
export type TokenRequestTemplate = z.infer<ReturnType<typeof tokenRequestTemplate>>;

const maxTemplateHeaders = 20;
/** Secret rows that hold the parts of a template that are more than placeholders. */
export const templateSecretPrefix = "refreshRequest.";
const headerSecretField = (index: number) => `${templateSecretPrefix}header.${index}`;
const bodySecretField = `${templateSecretPrefix}body`;
const templateSecretFields = [
  bodySecretField,
  ...Array.from({ length: maxTemplateHeaders }, (_, index) => headerSecretField(index)),
];

/**
 * A template as stored in settings: a header value or body that is more than placeholders is a
 * secret, kept encrypted in its own secret row; settings hold null (and `bodySecret`) instead.
 */
export const storedTemplate = z.object({
  endpoint: z.string(),
  method: z.enum(["POST", "GET", "PUT"]).default("POST"),
  headers: z.array(z.object({ name: z.string(), value: z.string().nullable() })).default([]),
  body: z.string().nullable().default(null),
  bodySecret: z.boolean().default(false),
  accessTokenPath: z.string(),
  refreshTokenPath: z.string().nullable().default(null),
  expiresInPath: z.string().nullable().default(null),
  expiresAtPath: z.string().nullable().default(null),
  accessTokenDurationMinutes: z.number().nullable().default(null),
  /** The placeholders the whole template uses, secret parts included. */
  placeholders: z.array(z.string()).default([]),
});
export type StoredTemplate = z.infer<typeof storedTemplate>;

export const bearerSettings = z.object({
  placement: z.enum(tokenPlacements),
  headerName: z.string(),
  scheme: z.string(),
  queryParameter: z.string().nullable().default(null),
  /** Sent as {{clientId}} by the refresh request. */
  clientId: z.string().nullable().default(null),
  refreshRequest: storedTemplate.nullable().default(null),
});
export type BearerSettings = z.infer<typeof bearerSettings>;

const placementFields = (context: ValidationContext) => ({
  placement: z.enum(tokenPlacements).nullish(),
  headerName: headerName.nullish(),
  scheme: scheme.nullish(),
  queryParameter: parameterName.nullish(),
  expiresAt: z.date().nullish(),
  refreshRequest: tokenRequestTemplate(context).nullish(),
  clientId: shortText(512).nullish(),
});

export const bearerCreateInput = (context: ValidationContext) =>
  z
    .object({
      ...placementFields(context),
      token: headerSecretValue,
      refreshToken: secretValue.nullish(),
      clientSecret: secretValue.nullish(),
    })
    .superRefine((input, ctx) => {
      if (input.placement === "QUERY" && !input.queryParameter) {
        ctx.addIssue({
          code: "custom",
          path: ["queryParameter"],
          message: "is required when placement is QUERY",
        });
      }
    });
export const bearerUpdateInput = (context: ValidationContext) =>
  z
    .object({
      ...placementFields(context),
      refreshToken: secretValue.nullish(),
      clientSecret: secretValue.nullish(),
      token: headerSecretValue.nullish(),
    })
    .partial();

// The refresh request sends the refresh token and the client secret to its endpoint, and the
// token itself when the template uses {{accessToken}}.
export const bearerSecretEndpoints: SecretEndpoints<BearerSettings> = {
  endpoints: (settings) => ({
    "refreshRequest.endpoint": settings.refreshRequest?.endpoint ?? null,
  }),
  secrets: (settings) => [
    "refreshToken",
    "clientSecret",
    ...(settings.refreshRequest && usesOf(settings.refreshRequest).has("accessToken")
      ? ["token"]
      : []),
  ],
  discard: ["refreshToken"],
  afterChange: (settings) => ({ settings, status: null }),
};

export const bearerSecretFields = ["token", "refreshToken", "clientSecret"] as const;

/** Splits a template as given into what settings keep and the secret rows for the rest. */
export function splitTemplate(template: TokenRequestTemplate | StoredTemplate | null): {
  stored: StoredTemplate | null;
  secrets: Record<string, string>;
} {
  if (!template) return { stored: null, secrets: {} };
  const secrets: Record<string, string> = {};
  const headers = template.headers.map((header, index) => {
    if (header.value === null || isPlaceholdersOnly(header.value)) return header;
    secrets[headerSecretField(index)] = header.value;
    return { name: header.name, value: null };
  });
  const body = template.body ?? null;
  const bodySecret = "bodySecret" in template && template.bodySecret;
  let storedBody = body;
  if (body !== null && body !== "" && !bodySecret && !isPlaceholdersOnly(body)) {
    secrets[bodySecretField] = body;
    storedBody = null;
  }
  return {
    stored: {
      endpoint: template.endpoint,
      method: template.method,
      headers,
      body: storedBody,
      bodySecret: bodySecret || bodySecretField in secrets,
      accessTokenPath: template.accessTokenPath,
      refreshTokenPath: template.refreshTokenPath ?? null,
      expiresInPath: template.expiresInPath ?? null,
      expiresAtPath: template.expiresAtPath ?? null,
      accessTokenDurationMinutes: template.accessTokenDurationMinutes ?? null,
      placeholders: [
        ...new Set([
          ...("placeholders" in template ? template.placeholders : []),
          ...templateUses({
            endpoint: template.endpoint,
            headers: template.headers.map((h) => ({ name: h.name, value: h.value ?? "" })),
            body: template.body ?? null,
          }),
        ]),
      ],
    },
    secrets,
  };
}

/** The template to run: stored settings with their secret parts filled back in. */
function templateOf(stored: StoredTemplate, secrets: Record<string, string>): TokenTemplate {
  return {
    endpoint: stored.endpoint,
    method: stored.method,
    headers: stored.headers.map((header, index) => ({
      name: header.name,
      value: header.value ?? secrets[headerSecretField(index)] ?? "",
    })),
    body: stored.bodySecret ? (secrets[bodySecretField] ?? null) : stored.body,
    accessTokenPath: stored.accessTokenPath,
    refreshTokenPath: stored.refreshTokenPath,
    expiresInPath: stored.expiresInPath,
    expiresAtPath: stored.expiresAtPath,
    accessTokenDurationMinutes: stored.accessTokenDurationMinutes,
  };
}

const masked = "••••••••";

/** The template as shown: placeholders-only values as they are, every other value masked. */
export function redactedTemplate(stored: StoredTemplate) {
  return {
    ...stored,
    headers: stored.headers.map((header) => ({
      name: header.name,
      value: header.value !== null && isPlaceholdersOnly(header.value) ? header.value : masked,
    })),
    body:
      stored.body === null && !stored.bodySecret
        ? null
        : stored.body !== null && isPlaceholdersOnly(stored.body)
          ? stored.body
          : masked,
  };
}

/** The placeholders a stored template uses (recorded at split time; visible parts as well). */
function usesOf(stored: StoredTemplate): Set<string> {
  return new Set([...stored.placeholders, ...templateUses(templateOf(stored, {}))]);
}

/** The secret rows a stored template needs to run. */
function templateRowsNeeded(stored: StoredTemplate): string[] {
  return [
    ...stored.headers.flatMap((header, index) =>
      header.value === null ? [headerSecretField(index)] : [],
    ),
    ...(stored.bodySecret ? [bodySecretField] : []),
  ];
}

const placeholderSource: Record<TemplatePlaceholder, string> = {
  refreshToken: "refreshToken",
  clientSecret: "clientSecret",
  accessToken: "token",
  clientId: "",
};

/** The configured token request (refreshRequest), run through the refresher like any grant. */
export const bearerTokenGrant: TokenGrant<BearerSettings> = {
  action: "token_request",
  accessTokenField: "token",
  secrets: ["token", "refreshToken", "clientSecret", ...templateSecretFields],
  canRefresh(settings, stored) {
    const template = settings.refreshRequest;
    if (!template) return false;
    if (!templateRowsNeeded(template).every((field) => stored.has(field))) return false;
    const uses = usesOf(template);
    return [...uses].every((name) => {
      if (name === "clientId") return settings.clientId !== null;
      const field = placeholderSource[name as TemplatePlaceholder];
      return field !== undefined && stored.has(field);
    });
  },
  async obtain(settings, secrets, context) {
    const stored = settings.refreshRequest;
    if (!stored) {
      throw new CredentialProviderError(
        "TOKEN_REFRESH_FAILED",
        "The credential has no refresh request.",
      );
    }
    const values: TemplateValues = {};
    if (secrets.refreshToken !== undefined) values.refreshToken = secrets.refreshToken;
    if (secrets.clientSecret !== undefined) values.clientSecret = secrets.clientSecret;
    if (secrets.token !== undefined) values.accessToken = secrets.token;
    if (settings.clientId !== null) values.clientId = settings.clientId;
    const { token, attempts } = await requestTemplateToken(
      {
        outbound: context.outbound,
        template: templateOf(stored, secrets),
        values,
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
      secrets: { token: token.accessToken, ...rotated },
      expiresAt: token.expiresAt,
      attempts,
      updated: token.updated,
    };
  },
  dropOnRevokedGrant: ["refreshToken"],
  keepAlive: false,
  sweepWhere: {
    kind: "BEARER",
    settings: { path: ["refreshRequest", "endpoint"], string_starts_with: "http" },
  },
};

export function createBearer(
  input: z.infer<ReturnType<typeof bearerCreateInput>>,
): KindCreation<BearerSettings> {
  const template = splitTemplate(input.refreshRequest ?? null);
  const secrets: Record<string, string> = { token: input.token, ...template.secrets };
  if (input.refreshToken) secrets.refreshToken = input.refreshToken;
  if (input.clientSecret) secrets.clientSecret = input.clientSecret;
  return {
    settings: {
      placement: input.placement ?? "HEADER",
      headerName: input.headerName ?? "Authorization",
      scheme: input.scheme ?? "Bearer",
      queryParameter: input.queryParameter ?? null,
      clientId: input.clientId ?? null,
      refreshRequest: template.stored,
    },
    secrets,
    status: "ACTIVE",
    expiresAt: input.expiresAt ?? null,
  };
}

/** Settings after an update; QUERY placement still needs a parameter name. */
export function checkBearerSettings(settings: BearerSettings): string | null {
  return settings.placement === "QUERY" && !settings.queryParameter
    ? "queryParameter is required when placement is QUERY"
    : null;
}

export function bearerAuthMaterial(
  settings: BearerSettings,
  secrets: Record<string, string>,
): AuthMaterial {
  const token = secrets.token ?? "";
  const material: AuthMaterial = { headers: [], queryParameters: [], pathParameters: [] };
  if (settings.placement === "HEADER") {
    const value = settings.scheme ? `${settings.scheme} ${token}` : token;
    material.headers.push({ name: settings.headerName, value });
  } else if (settings.placement === "QUERY") {
    material.queryParameters.push({ name: settings.queryParameter ?? "token", value: token });
  } else {
    // The caller substitutes it into its URL (e.g. https://api.telegram.org/bot<token>/getMe).
    material.pathParameters.push({ name: "token", value: token });
  }
  return material;
}

export const bearerAuditableSettings = [
  "clientId",
  "placement",
  "headerName",
  "scheme",
  "queryParameter",
] as const;

/** The catalog's verify request, with the token placed as the provider expects (Telegram: in
 * the path). */
export const checkBearer: KindCheck<BearerSettings> = (settings, secrets, context) => {
  const request = context.provider?.entry.verify;
  if (!context.provider || !request) return null;
  return sendVerifyRequest(
    context.outbound,
    context.provider.entry,
    request,
    context.provider.connectionConfig,
    bearerAuthMaterial(settings, secrets),
    context.timeoutMs,
  );
};
