// A static token (API key or bearer token) placed in a header, a query parameter or the URL path.
import { z } from "zod";
import { sendVerifyRequest } from "../../catalog/verify.js";
import type {
  AuthMaterial,
  KindCheck,
  KindCreation,
  SecretEndpoints,
  ValidationContext,
} from "./common.js";
import {
  headerSecretValue,
  headerValue,
  multilineText,
  secretValue,
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

/** A token endpoint for bearer tokens that come from a non-standard refresh call. */
export const tokenRequestTemplate = (context: ValidationContext) =>
  z.object({
    endpoint: urlSchema(context),
    method: z.enum(["POST", "GET", "PUT"]).default("POST"),
    headers: z
      .array(z.object({ name: headerName, value: headerValue(4096) }))
      .max(20)
      .default([]),
    body: multilineText(16_384).nullish(),
    accessTokenPath: z.string().min(1).max(200).superRefine(singleLine),
    refreshTokenPath: z.string().min(1).max(200).superRefine(singleLine).nullish(),
    expiresInPath: z.string().min(1).max(200).superRefine(singleLine).nullish(),
    accessTokenDurationMinutes: z.number().int().min(1).max(525_600).nullish(),
  });
export type TokenRequestTemplate = z.infer<ReturnType<typeof tokenRequestTemplate>>;

export const bearerSettings = z.object({
  placement: z.enum(tokenPlacements),
  headerName: z.string(),
  scheme: z.string(),
  queryParameter: z.string().nullable().default(null),
  refreshRequest: z.unknown().nullable().default(null),
});
export type BearerSettings = z.infer<typeof bearerSettings>;

const placementFields = (context: ValidationContext) => ({
  placement: z.enum(tokenPlacements).nullish(),
  headerName: headerName.nullish(),
  scheme: scheme.nullish(),
  queryParameter: parameterName.nullish(),
  expiresAt: z.date().nullish(),
  refreshRequest: tokenRequestTemplate(context).nullish(),
});

export const bearerCreateInput = (context: ValidationContext) =>
  z
    .object({
      ...placementFields(context),
      token: headerSecretValue,
      refreshToken: secretValue.nullish(),
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
  z.object({ ...placementFields(context), refreshToken: secretValue.nullish() }).partial();

// The refresh request sends the refresh token to its endpoint.
export const bearerSecretEndpoints: SecretEndpoints<BearerSettings> = {
  endpoints: (settings) => ({
    "refreshRequest.endpoint":
      (settings.refreshRequest as TokenRequestTemplate | null)?.endpoint ?? null,
  }),
  secrets: ["refreshToken"],
  discard: ["refreshToken"],
  afterChange: (settings) => ({ settings, status: null }),
};

export const bearerSecretFields = ["token", "refreshToken"] as const;

export function createBearer(
  input: z.infer<ReturnType<typeof bearerCreateInput>>,
): KindCreation<BearerSettings> {
  const secrets: Record<string, string> = { token: input.token };
  if (input.refreshToken) secrets.refreshToken = input.refreshToken;
  return {
    settings: {
      placement: input.placement ?? "HEADER",
      headerName: input.headerName ?? "Authorization",
      scheme: input.scheme ?? "Bearer",
      queryParameter: input.queryParameter ?? null,
      refreshRequest: input.refreshRequest ?? null,
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
