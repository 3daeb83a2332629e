// Pieces shared by the credential kinds: input rules and the kind contract.
import { z } from "zod";
import type { Prisma } from "../../../generated/prisma/client.js";
import type { Outbound } from "../../../lib/outbound.js";
import { basicUserIdProblem, headerValueProblem, textProblem } from "../../../lib/text.js";
import type { ProviderEntry } from "../../catalog/catalog.js";
import type { VerificationOutcome } from "../../catalog/verify.js";
import type { ClientAuthentication, TokenAttempt } from "../../oauth/token-client.js";
import type { AttemptAction } from "../history.js";

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
  /** The stored secrets those destinations receive (for the settings after the change). */
  secrets: readonly string[] | ((settings: Settings) => readonly string[]);
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

/** What a kind needs to reach its provider: the outbound policy and the token request limits. */
export type ProviderContext = {
  outbound: Outbound;
  /** One token request's time cap (TOKEN_REQUEST_TIMEOUT). */
  timeoutMs: number;
  /** Attempts within one token request (transient failures are retried). */
  maxAttempts: number;
  /** Waits between attempts; the refresher checks it still holds its lease here. */
  sleep?: (ms: number) => Promise<void>;
  /** The credential's catalog entry and connection variables, when it has one. */
  provider?: CheckContext["provider"];
};

/** A token obtained without the user: what to store, and the attempts it took. */
export type ObtainedToken = {
  /** Secret fields to write (the access token, and a rotated refresh token). */
  secrets: Record<string, string>;
  expiresAt: Date | null;
  attempts: TokenAttempt[];
  /** Names of the values the response updated, for the event record (never values). */
  updated: string[];
  /**
   * Runs inside the write's transaction after its fenced update: settings the response changes
   * (granted scopes). Returns a reason that leaves the credential DEGRADED, or null.
   */
  afterWrite?: (
    tx: Prisma.TransactionClient,
    credentialId: string,
  ) => Promise<{ code: string; message: string } | null>;
};

/** How a kind obtains a new token without the user (a refresh token, client credentials, a
 * configured token request). Failures throw TokenEndpointError (classified) or
 * CredentialProviderError (nothing was requested). */
export type TokenGrant<Settings> = {
  /** The attempt action recorded in history. */
  action: AttemptAction;
  /** The secret field that holds the token handed out (and refreshed). */
  accessTokenField: string;
  /** Stored secrets the token request reads. */
  secrets: readonly string[];
  /** Whether a new token can be had with the settings and the stored secret fields. */
  canRefresh(settings: Settings, storedFields: ReadonlySet<string>): boolean;
  obtain(
    settings: Settings,
    secrets: Record<string, string>,
    context: ProviderContext,
  ): Promise<ObtainedToken>;
  /** Secrets deleted when the provider says the grant is gone (invalid_grant). */
  dropOnRevokedGrant: readonly string[];
  /** Refreshed in the background even while valid, after REFRESH_KEEPALIVE. */
  keepAlive: boolean;
  /** The rows the background refresher considers (besides being due). */
  sweepWhere: Prisma.CredentialWhereInput;
};

/** How a client authenticates at the token endpoint. */
export const clientAuthOf = (
  settings: { clientId: string; tokenEndpointAuthMethod: TokenEndpointAuthMethod },
  clientSecret: string | null,
): ClientAuthentication => ({
  clientId: settings.clientId,
  clientSecret,
  method: settings.tokenEndpointAuthMethod,
});

/** An access token placed as `Authorization: Bearer`, or null when there is none yet. */
export function bearerAccessToken(secrets: Record<string, string>): AuthMaterial | null {
  if (!secrets.accessToken) return null;
  return {
    headers: [{ name: "Authorization", value: `Bearer ${secrets.accessToken}` }],
    queryParameters: [],
    pathParameters: [],
  };
}

/** What a kind does before a credential is stored (verify on create). */
/** What a kind's dry call needs: the outbound path and the credential's catalog entry. */
export type CheckContext = {
  outbound: Outbound;
  timeoutMs: number;
  /** The credential's provider and its connection variables; null without a catalog entry. */
  provider: { entry: ProviderEntry; connectionConfig: Record<string, string> } | null;
};

/**
 * The provider's dry call for a credential with the given secrets (stored ones, or candidates
 * for a rotation); null when there is nothing to call for it. Never stores anything.
 */
export type KindCheck<Settings> = (
  settings: Settings,
  secrets: Readonly<Record<string, string>>,
  context: CheckContext,
) => Promise<VerificationOutcome> | null;

export type VerifyContext = ProviderContext & {
  /** Reads issuer metadata freshly (no cache) when true. */
  fresh?: boolean;
};

/** The outcome of verifying a new credential: the (possibly completed) creation, and whether
 * the provider accepted it (recorded as VERIFIED). */
export type Verified<Settings> = { creation: KindCreation<Settings>; verified: boolean };
