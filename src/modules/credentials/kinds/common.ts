// Pieces shared by the credential kinds: input rules and the kind contract.
import { z } from "zod";
import type { Outbound } from "../../../lib/outbound.js";

export type CredentialKind = "BASIC" | "BEARER" | "OAUTH2" | "CLIENT_CREDENTIALS";
export type CredentialStatus = "PENDING_AUTHORIZATION" | "ACTIVE" | "DEGRADED" | "INVALID";

export type NameValue = { name: string; value: string };
export type AuthMaterial = {
  headers: NameValue[];
  queryParameters: NameValue[];
  pathParameters: NameValue[];
};

/** What a kind's create input turns into: settings to store and secrets to encrypt. */
export type KindCreation<Settings> = {
  settings: Settings;
  secrets: Record<string, string>;
  status: CredentialStatus;
  expiresAt: Date | null;
};

export type ValidationContext = {
  production: boolean;
  /** The outbound policy; URL fields are checked against it without any I/O. */
  outbound: Pick<Outbound, "urlProblem">;
};

/**
 * Where a kind's secrets are sent, so that a caller who cannot read a secret cannot send it
 * anywhere new: changing one of these settings needs `secrets` again in the same request, and
 * drops the stored tokens that the old endpoint issued (`discard`).
 */
export type SecretEndpoints<Settings> = {
  /** The settings that name a destination of secrets, by name (a dotted path for nested ones). */
  endpoints(settings: Settings): Record<string, string | null>;
  /** The stored secrets those destinations receive. */
  secrets: readonly string[];
  /** Stored tokens tied to the old destination, dropped when one changes. */
  discard: readonly string[];
  /** Settings and status once the tokens are dropped; null leaves the status as it is. */
  afterChange(settings: Settings): { settings: Settings; status: CredentialStatus | null };
};

/**
 * An absolute http(s) URL the outbound policy accepts: https in production, and no IP-literal
 * host in a refused range unless OUTBOUND_ALLOW admits it. Host names are checked when a request
 * is made (they are resolved then).
 */
export function urlSchema(context: ValidationContext) {
  return z
    .string()
    .max(2048, "must be at most 2048 characters")
    .superRefine((value, ctx) => {
      const problem = context.outbound.urlProblem(value);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
}

export const secretValue = z
  .string()
  .min(1, "must not be empty")
  .max(16_384, "must be at most 16384 characters");

export const shortText = (max: number) =>
  z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`);

export const scopeList = z
  .array(z.string().min(1).max(200).regex(/^\S+$/, "must not contain spaces"))
  .max(100, "must have at most 100 scopes");

export const tokenEndpointAuthMethods = ["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"] as const;
export type TokenEndpointAuthMethod = (typeof tokenEndpointAuthMethods)[number];
