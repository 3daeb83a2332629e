// Pieces shared by the credential kinds: input rules and the kind contract.
import { z } from "zod";
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

export type ValidationContext = { production: boolean };

const loopbackHosts = new Set(["localhost", "127.0.0.1", "[::1]", "::1"]);

/** An absolute http(s) URL; https in production except for loopback hosts. */
export function urlSchema(context: ValidationContext) {
  return z
    .string()
    .max(2048, "must be at most 2048 characters")
    .superRefine((value, ctx) => {
      const problem = urlProblem(value, context);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    });
}

function urlProblem(value: string, context: ValidationContext): string | null {
  if (!URL.canParse(value)) return "must be an absolute URL";
  const url = new URL(value);
  if (url.protocol !== "http:" && url.protocol !== "https:") return "must be an http or https URL";
  if (url.username || url.password) return "must not contain credentials";
  const loopback = loopbackHosts.has(url.hostname) || url.hostname.startsWith("127.");
  if (context.production && url.protocol !== "https:" && !loopback) return "must use https";
  return null;
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
