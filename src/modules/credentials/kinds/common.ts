// Pieces shared by the credential kinds: input rules and the kind contract.
import { z } from "zod";
import type { Outbound } from "../../../lib/outbound.js";
import { basicUserIdProblem, headerValueProblem, textProblem } from "../../../lib/text.js";

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

/** A zod check from a rule that returns a problem or null. */
export const rule =
  (check: (value: string) => string | null) => (value: string, ctx: z.RefinementCtx) => {
    const problem = check(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  };

/** Caller text on one line: no NUL, CR, LF or other control character, no lone surrogate. */
export const singleLine = rule((value) => textProblem(value));

/** A secret: no control characters, so it can travel in a header (Basic) or a form body. */
export const secretValue = z
  .string()
  .min(1, "must not be empty")
  .max(16_384, "must be at most 16384 characters")
  .superRefine(singleLine);

/** A secret sent as it is in a header value (bearer and access tokens): RFC 9110 field-value. */
export const headerSecretValue = secretValue.superRefine(rule(headerValueProblem));

/** Any other header value keyport sends as given. */
export const headerValue = (max: number) =>
  z.string().max(max, `must be at most ${max} characters`).superRefine(rule(headerValueProblem));

export const shortText = (max: number) =>
  z
    .string()
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`)
    .superRefine(singleLine);

/** Text that may span lines (descriptions): still no NUL, lone surrogate or other control. */
export const multilineText = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .superRefine(rule((value) => textProblem(value, { multiline: true })));

/** The user-id of HTTP Basic authentication (RFC 7617): one line, no colon. */
export const basicUsername = shortText(512).superRefine(rule(basicUserIdProblem));

export const scopeList = z
  .array(
    z.string().min(1).max(200).regex(/^\S+$/, "must not contain spaces").superRefine(singleLine),
  )
  .max(100, "must have at most 100 scopes");

export const tokenEndpointAuthMethods = ["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"] as const;
export type TokenEndpointAuthMethod = (typeof tokenEndpointAuthMethods)[number];
