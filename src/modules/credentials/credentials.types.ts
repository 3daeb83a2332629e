// GraphQL types of credentials: the CredentialBase interface, one Prisma variant per kind, the
// Credential union, and Secret (write-only, except `value` for callers with credentials:use).
import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder } from "../../builder.js";
import { type Context, callerOf, serviceDepsOf } from "../../context.js";
import { fieldError } from "../../lib/validation.js";
import { ProviderRef } from "../catalog/catalog.refs.js";
import { ErrorInterface } from "../common/errors.types.js";
import { tryDecodeId } from "../common/ids.js";
import { registerNodeLoader } from "../common/nodes.js";
import {
  CredentialNotUsableError,
  CredentialProviderError,
  type StatusReason,
} from "./credentials.errors.js";
import { credentialScope, readSecretValue } from "./credentials.service.js";
import type { BasicSettings } from "./kinds/basic.js";
import { type BearerSettings, redactedTemplate } from "./kinds/bearer.js";
import type { ClientCredentialsSettings } from "./kinds/client-credentials.js";
import type { tokenEndpointAuthMethods } from "./kinds/common.js";
import { settingsOf } from "./kinds/index.js";
import { effectiveEndpoints, type OAuth2Settings } from "./kinds/oauth2.js";

export const CredentialKindEnum = builder.enumType("CredentialKind", {
  description:
    "How a credential authenticates; each kind is its own object type implementing CredentialBase.",
  values: {
    BASIC: { description: "Username and password (HTTP Basic, databases). Type BasicCredential." },
    BEARER: {
      description:
        "A static bearer token or API key, optionally refreshed through a custom token request. Type BearerCredential.",
    },
    OAUTH2: {
      description:
        "OAuth 2.0 authorization code flow: an end user authorizes in the browser; keyport refreshes the tokens. Type OAuth2Credential.",
    },
    CLIENT_CREDENTIALS: {
      description:
        "OAuth 2.0 client-credentials grant: machine-to-machine, keyport fetches and renews the access token itself. Type ClientCredentialsCredential.",
    },
  } as const,
});
export const CredentialStatusEnum = builder.enumType("CredentialStatus", {
  description: "Whether a credential can hand out auth material right now.",
  values: {
    PENDING_AUTHORIZATION: {
      description:
        "Created but not yet authorized (OAuth2): run authorizeCredential and let the user consent. acquireCredentialHeaders refuses it.",
    },
    ACTIVE: { description: "Working: acquireCredentialHeaders returns auth material." },
    DEGRADED: {
      description:
        "Still usable, but something needs attention (e.g. missing scopes, refresh failing transiently); see statusReason.",
    },
    INVALID: {
      description:
        "Not usable until fixed (e.g. refresh token revoked, credentials rejected); see statusReason. Usually needs reauthorizeCredential or rotateCredential.",
    },
  } as const,
});
export const CredentialErrorCodeEnum = builder.enumType("CredentialErrorCode", {
  description: "Why a provider operation failed; machine-readable, stable across releases.",
  values: {
    INVALID_CREDENTIALS: {
      description: "The provider rejected the secret (wrong password, token or client secret).",
    },
    AUTHORIZATION_FAILED: {
      description:
        "The authorization flow failed (state mismatch, expired or replayed flow, or the code exchange was refused).",
    },
    TOKEN_REFRESH_FAILED: {
      description:
        "Refreshing the token failed; keyport retries with backoff while the credential is DEGRADED.",
    },
    REFRESH_TOKEN_REVOKED: {
      description:
        "The provider revoked or expired the refresh token (invalid_grant); the end user must authorize again.",
    },
    INVALID_REDIRECT_URI: {
      description:
        "The provider refused the redirect URI; register keyport's callback URL with the provider.",
    },
    INSUFFICIENT_SCOPES: {
      description: "The provider granted fewer scopes than requested; see missingScopes.",
    },
    ACCOUNT_MISMATCH: {
      description:
        "Reauthorization signed in to a different account than the credential belongs to; nothing was changed.",
    },
    CONNECTION_REFUSED: {
      description:
        "The provider's endpoint could not be reached (DNS, TCP or TLS failure, or timeout).",
    },
    PROVIDER_UNAVAILABLE: {
      description: "The provider answered with a server error (5xx) or an unreadable response.",
    },
    RATE_LIMITED: { description: "The provider rate-limited keyport (HTTP 429); retry later." },
    ENDPOINT_NOT_ALLOWED: {
      description:
        "The endpoint's address is not allowed by keyport's outbound policy (e.g. private networks).",
    },
    AUTHORIZATION_DENIED: {
      description: "The end user (or the provider) declined consent on the authorization page.",
    },
  } as const,
});
export const TokenPlacementEnum = builder.enumType("TokenPlacement", {
  description: "Where a bearer token goes in the outgoing request.",
  values: {
    HEADER: {
      description: "In a request header (headerName, default Authorization), after the scheme.",
    },
    QUERY: {
      description: "In a query-string parameter (queryParameter); returned in queryParameters.",
    },
    PATH: {
      description: "In the request path; returned in pathParameters for the caller to substitute.",
    },
  } as const,
});
export const TokenEndpointAuthMethodEnum = builder.enumType("TokenEndpointAuthMethod", {
  description: "How keyport authenticates itself (client id and secret) at the token endpoint.",
  values: {
    CLIENT_SECRET_BASIC: {
      description: "In an HTTP Basic Authorization header (the OAuth 2.0 default).",
    },
    CLIENT_SECRET_POST: { description: "As client_id and client_secret in the form body." },
  } satisfies Record<(typeof tokenEndpointAuthMethods)[number], { description: string }>,
});

/**
 * Reading credentials: what `credential(id)` requires, on every path to a credential. A connect
 * session (scope `connect`) passes too; the where clause limits it to its own end user's rows.
 */
export const credentialsRead = { anyScope: ["credentials:read", "connect"] as const };
/** Creating, authorizing and deleting credentials: credentials:write, or a connect session. */
export const credentialsWriteOrConnect = {
  anyScope: ["credentials:write", "connect"] as const,
};
/**
 * Types reached both from credentials (credentials:read) and from acquireCredentialHeaders
 * (credentials:use). The parent on each path still enforces its own rule.
 */
export const credentialsReadOrUse = {
  anyScope: ["credentials:read", "credentials:use", "connect"] as const,
};

export const StatusReasonRef = builder.objectRef<StatusReason>("StatusReason").implement({
  description: "Why a credential is not ACTIVE.",
  authScopes: credentialsReadOrUse,
  fields: (t) => ({
    code: t.field({
      description: "Machine-readable cause; branch on this, not on the message.",
      type: CredentialErrorCodeEnum,
      resolve: (reason) => reason.code as never,
    }),
    message: t.exposeString("message", {
      description:
        "Human-readable detail from keyport (never from the provider's raw response, never a secret).",
    }),
  }),
});

type SecretSummary = { field: string; preview: string | null; fingerprint: string };
type SecretSource = {
  credential: { id: string; workspaceId: string };
  field: string;
  summary: SecretSummary | undefined;
};

export const SecretRef = builder.objectRef<SecretSource>("Secret").implement({
  description:
    "A secret field. Its value is never shown, except `value` to callers holding credentials:use (each read is audited).",
  authScopes: credentialsRead,
  fields: (t) => ({
    isSet: t.boolean({
      description: "True when a value is stored for this field.",
      resolve: (secret) => secret.summary !== undefined,
    }),
    preview: t.string({
      nullable: true,
      description:
        'The last 4 characters behind a mask ("••••3f9a"); null for values shorter than 12, and for connect sessions.',
      resolve: (secret, _args, context) =>
        context.caller?.connect ? null : (secret.summary?.preview ?? null),
    }),
    fingerprint: t.string({
      nullable: true,
      description:
        "A keyed hash that tells two values apart without revealing them; null for connect sessions.",
      resolve: (secret, _args, context) =>
        context.caller?.connect ? null : (secret.summary?.fingerprint ?? null),
    }),
    value: t.string({
      nullable: true,
      description:
        "The plaintext; each read is audited. Prefer acquireCredentialHeaders, which hands out ready-to-send material.",
      // On top of the type's credentials:read; without credentials:use the value is null.
      authScopes: { scope: "credentials:use" },
      unauthorizedResolver: () => null,
      resolve: async (secret, _args, context) => {
        if (!secret.summary || !context.caller?.scopes.has("credentials:use")) return null;
        if (context.caller.connect) return null;
        return readSecretValue(
          serviceDeps(context),
          callerOf(context),
          secret.credential,
          secret.field,
        );
      },
    }),
  }),
});

export function serviceDeps(context: Context) {
  return serviceDepsOf(context.services);
}

/** The raw id of any credential kind's global id, or a ValidationError on `path`. */
export function credentialRawId(globalId: string | number, path: string[]): string {
  const decoded = tryDecodeId(String(globalId));
  if (!decoded || !credentialTypeNames.includes(decoded.typename)) {
    throw fieldError(path, "is not a valid credential id");
  }
  return decoded.id;
}

// Secret summaries are loaded with the credential (one query for a whole page), never ciphertexts.
const secretSelection = {
  secrets: {
    where: { retainUntil: null },
    select: { field: true, preview: true, fingerprint: true },
  },
} as const;

type WithSecrets = {
  id: string;
  workspaceId: string;
  secrets: SecretSummary[];
};

function secretOf(credential: WithSecrets, field: string): SecretSource {
  return {
    credential: { id: credential.id, workspaceId: credential.workspaceId },
    field,
    summary: credential.secrets.find((secret) => secret.field === field),
  };
}

const kindTypeNames = {
  BASIC: "BasicCredential",
  BEARER: "BearerCredential",
  OAUTH2: "OAuth2Credential",
  CLIENT_CREDENTIALS: "ClientCredentialsCredential",
} as const;
export const credentialTypeNames: readonly string[] = Object.values(kindTypeNames);

/** The global id of a credential row (its kind's type name and the row id). */
export function credentialGlobalId(credential: { id: string; kind: keyof typeof kindTypeNames }) {
  return encodeGlobalID(kindTypeNames[credential.kind], credential.id);
}

export const CredentialBaseRef = builder.prismaInterface("Credential", {
  name: "CredentialBase",
  description: "What every kind of credential has.",
  authScopes: credentialsRead,
  interfaces: [builder.nodeInterfaceRef()],
  select: { id: true, kind: true, workspaceId: true },
  resolveType: (credential) => kindTypeNames[credential.kind],
  fields: (t) => ({
    id: t.globalID({
      description:
        "The credential's global id; its type name is the kind's (e.g. OAuth2Credential).",
      resolve: (c) => ({ type: kindTypeNames[c.kind], id: c.id }),
    }),
    name: t.exposeString("name", { description: "Display name, unique within the environment." }),
    description: t.exposeString("description", {
      description: "Free-text note about what the credential is for; null when unset.",
      nullable: true,
    }),
    kind: t.expose("kind", {
      description: "How the credential authenticates; decides which object type this is.",
      type: CredentialKindEnum,
    }),
    status: t.expose("status", {
      description:
        "Whether it can hand out auth material now. Watch it live with the credentialEvents subscription.",
      type: CredentialStatusEnum,
    }),
    statusReason: t.field({
      description: "Why the status is not ACTIVE; null while ACTIVE.",
      type: StatusReasonRef,
      nullable: true,
      select: { statusReasonCode: true, statusReasonMessage: true },
      resolve: (credential) =>
        credential.statusReasonCode
          ? { code: credential.statusReasonCode, message: credential.statusReasonMessage ?? "" }
          : null,
    }),
    environment: t.relation("environment", {
      description: "The environment the credential belongs to.",
    }),
    providerKey: t.exposeString("providerKey", {
      description:
        "The provider this credential is for (e.g. `github`), when set; free text used for filtering and display.",
      nullable: true,
    }),
    provider: t.field({
      type: ProviderRef,
      nullable: true,
      description:
        "The catalog entry of providerKey; null without a providerKey or when the catalog has no such provider.",
      select: { providerKey: true },
      resolve: (credential, _args, context) => context.services.catalog.get(credential.providerKey),
    }),
    connectionConfig: t.field({
      type: "JSON",
      description: "The provider's connection variables for this credential (`subdomain`).",
      select: { connectionConfig: true },
      resolve: (credential) => credential.connectionConfig ?? {},
    }),
    externalUserId: t.exposeString("externalUserId", {
      description:
        "Your own id of the end user this credential belongs to; null for workspace-owned credentials. Filter credentials by it.",
      nullable: true,
    }),
    createdAt: t.expose("createdAt", {
      description: "When the credential was created (ISO 8601, UTC).",
      type: "DateTime",
    }),
    updatedAt: t.expose("updatedAt", {
      description: "When its settings, secrets or status last changed (ISO 8601, UTC).",
      type: "DateTime",
    }),
    lastUsedAt: t.expose("lastUsedAt", {
      description:
        "When auth material was last acquired from it (updated at most once a minute); null if never.",
      type: "DateTime",
      nullable: true,
    }),
    lastVerifiedAt: t.expose("lastVerifiedAt", {
      description:
        "When the provider last accepted it (a successful token fetch, refresh or check); null if never.",
      type: "DateTime",
      nullable: true,
    }),
    previousSecretExpiresAt: t.field({
      type: "DateTime",
      nullable: true,
      description:
        "During a rotation's overlap window, when the replaced secret stops being kept for rollbackCredentialRotation; null outside a window. The new secret is the one in use meanwhile.",
      select: { previousSecretUntil: true },
      resolve: (credential) =>
        credential.previousSecretUntil && credential.previousSecretUntil > new Date()
          ? credential.previousSecretUntil
          : null,
    }),
  }),
});

// The global id of every kind uses its own type name; the raw id is the row id.
const globalId = (typeName: string) => ({
  id: {
    field: "id" as const,
    description: "The credential's global id; its type name is the kind's (e.g. OAuth2Credential).",
  },
  description: `A ${typeName}.`,
});

export const BasicCredentialRef = builder.prismaNode("Credential", {
  variant: "BasicCredential",
  ...globalId("username and password login"),
  authScopes: credentialsRead,
  interfaces: [CredentialBaseRef],
  select: { id: true, kind: true, workspaceId: true, settings: true },
  fields: (t) => ({
    username: t.string({
      description: "The login name.",
      resolve: (c) => settingsOf<BasicSettings>(c).username,
    }),
    password: t.field({
      description: "The password (write-only; only a preview and fingerprint are shown).",
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "password"),
    }),
    host: t.string({
      description: "Host name of the service, for database-style logins; null when unset.",
      nullable: true,
      resolve: (c) => settingsOf<BasicSettings>(c).host,
    }),
    port: t.int({
      description: "TCP port of the service (1–65535); null when unset.",
      nullable: true,
      resolve: (c) => settingsOf<BasicSettings>(c).port,
    }),
    database: t.string({
      description: "Database name, for database logins; null when unset.",
      nullable: true,
      resolve: (c) => settingsOf<BasicSettings>(c).database,
    }),
  }),
});

const NameValueRef = builder.objectRef<{ name: string; value: string }>("NameValue").implement({
  // Template headers (under a credential) and acquired headers (credentials:use).
  authScopes: credentialsReadOrUse,
  description: "A name and a value: a header, query parameter or path parameter.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "The header or parameter name, as sent." }),
    value: t.exposeString("value", {
      description: "The value, as sent. Acquired values are secret: never log them.",
    }),
  }),
});

export const TokenRequestTemplateRef = builder
  .objectRef<ReturnType<typeof redactedTemplate>>("TokenRequestTemplate")
  .implement({
    description:
      "How to obtain a new token from a non-standard endpoint. The endpoint, body and header values may use {{refreshToken}}, {{clientId}}, {{clientSecret}} and {{accessToken}}. Header values and a body that are more than placeholders are secrets: stored encrypted and shown masked.",
    authScopes: credentialsRead,
    fields: (t) => ({
      endpoint: t.exposeString("endpoint", { description: "The token endpoint URL (https)." }),
      method: t.exposeString("method", { description: "The HTTP method used (POST by default)." }),
      headers: t.field({
        description:
          "Headers sent with the request. A value that is more than placeholders is stored encrypted and shown masked (••••••••).",
        type: [NameValueRef],
        resolve: (template) => template.headers,
      }),
      body: t.exposeString("body", {
        description:
          "The request body (form or JSON text); shown as is when it holds only placeholders, masked otherwise; null for none.",
        nullable: true,
      }),
      accessTokenPath: t.exposeString("accessTokenPath", {
        description:
          "Dot path to the new access token in the JSON response (e.g. `data.access_token`).",
      }),
      refreshTokenPath: t.exposeString("refreshTokenPath", {
        description:
          "Dot path to a new refresh token in the response, if the endpoint rotates it; null when it does not.",
        nullable: true,
      }),
      expiresInPath: t.exposeString("expiresInPath", {
        description:
          "Dot path to the token's lifetime in seconds in the response; null to use accessTokenDurationMinutes.",
        nullable: true,
      }),
      expiresAtPath: t.exposeString("expiresAtPath", {
        nullable: true,
        description:
          "JSON path to the token's absolute expiry (ISO 8601 or epoch seconds), used when expiresInPath gives nothing.",
      }),
      accessTokenDurationMinutes: t.exposeInt("accessTokenDurationMinutes", {
        description:
          "How long a new token lasts, in minutes, when the response does not say; null when unknown (then the token is refreshed only after it is refused).",
        nullable: true,
      }),
    }),
  });

export const BearerCredentialRef = builder.prismaNode("Credential", {
  variant: "BearerCredential",
  ...globalId("bearer token or API key"),
  authScopes: credentialsRead,
  interfaces: [CredentialBaseRef],
  select: { id: true, kind: true, workspaceId: true, settings: true },
  fields: (t) => ({
    token: t.field({
      description: "The bearer token or API key (write-only; preview and fingerprint only).",
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "token"),
    }),
    refreshToken: t.field({
      description:
        "The refresh token (write-only; preview and fingerprint only); null when none is stored.",
      type: SecretRef,
      nullable: true,
      select: secretSelection,
      resolve: (c) =>
        c.secrets.some((s) => s.field === "refreshToken") ? secretOf(c, "refreshToken") : null,
    }),
    placement: t.field({
      description: "Where the token goes in the outgoing request.",
      type: TokenPlacementEnum,
      resolve: (c) => settingsOf<BearerSettings>(c).placement,
    }),
    headerName: t.string({
      description:
        "The header that carries the token when placement is HEADER (default `Authorization`).",
      resolve: (c) => settingsOf<BearerSettings>(c).headerName,
    }),
    scheme: t.string({
      nullable: true,
      description: 'Written before the token in the header ("Bearer"); null for none.',
      resolve: (c) => settingsOf<BearerSettings>(c).scheme || null,
    }),
    queryParameter: t.string({
      description:
        "The query-string parameter that carries the token when placement is QUERY; null otherwise.",
      nullable: true,
      resolve: (c) => settingsOf<BearerSettings>(c).queryParameter,
    }),
    expiresAt: t.expose("expiresAt", {
      description:
        "When the current access token expires (ISO 8601, UTC); null when unknown or it does not expire. keyport refreshes ahead of it.",
      type: "DateTime",
      nullable: true,
    }),
    refreshRequest: t.field({
      description: "How to fetch a new token when this one expires; null when the token is static.",
      type: TokenRequestTemplateRef,
      nullable: true,
      resolve: (c) => {
        const template = settingsOf<BearerSettings>(c).refreshRequest;
        return template ? redactedTemplate(template) : null;
      },
    }),
    clientId: t.string({
      nullable: true,
      description: "Sent as {{clientId}} by the refresh request.",
      resolve: (c) => settingsOf<BearerSettings>(c).clientId,
    }),
    clientSecret: t.field({
      type: SecretRef,
      nullable: true,
      description: "Sent as {{clientSecret}} by the refresh request.",
      select: secretSelection,
      resolve: tokenSecretOf("clientSecret"),
    }),
  }),
});

function tokenSecretOf(field: string) {
  return (c: WithSecrets) => (c.secrets.some((s) => s.field === field) ? secretOf(c, field) : null);
}

function tokenSecret(field: string) {
  return (c: WithSecrets) => (c.secrets.some((s) => s.field === field) ? secretOf(c, field) : null);
}

export const OAuth2CredentialRef = builder.prismaNode("Credential", {
  variant: "OAuth2Credential",
  ...globalId("OAuth 2.0 authorization-code credential"),
  authScopes: credentialsRead,
  interfaces: [CredentialBaseRef],
  select: { id: true, kind: true, workspaceId: true, settings: true },
  fields: (t) => {
    const setting =
      <Key extends keyof OAuth2Settings>(key: Key) =>
      (c: { kind: "OAUTH2"; settings: unknown }) =>
        settingsOf<OAuth2Settings>(c)[key];
    const effective = (c: unknown) =>
      effectiveEndpoints(settingsOf<OAuth2Settings>(c as { kind: "OAUTH2"; settings: unknown }));
    return {
      clientId: t.string({
        description: "The OAuth client id registered with the provider.",
        resolve: (c) => setting("clientId")(c as never),
      }),
      clientSecret: t.field({
        description: "The OAuth client secret (write-only; preview and fingerprint only).",
        type: SecretRef,
        select: secretSelection,
        resolve: (c) => secretOf(c, "clientSecret"),
      }),
      issuer: t.string({
        description:
          "The OpenID/OAuth issuer URL whose metadata supplies missing endpoints and verifies ID tokens; null when endpoints are configured by hand.",
        nullable: true,
        resolve: (c) => setting("issuer")(c as never),
      }),
      authorizationUrl: t.string({
        nullable: true,
        description: "As configured, or else as discovered from the issuer's metadata.",
        resolve: (c) => effective(c).authorizationUrl,
      }),
      tokenUrl: t.string({
        nullable: true,
        description: "As configured, or else as discovered from the issuer's metadata.",
        resolve: (c) => effective(c).tokenUrl,
      }),
      revocationUrl: t.string({
        nullable: true,
        description: "As configured, or else as discovered from the issuer's metadata.",
        resolve: (c) => effective(c).revocationUrl,
      }),
      endpointsDiscoveredAt: t.field({
        type: "DateTime",
        nullable: true,
        description:
          "When endpoints were last read from the issuer's metadata; null if never (all configured, or no issuer).",
        resolve: (c) => setting("discovered")(c as never)?.discoveredAt ?? null,
      }),
      scopes: t.stringList({
        description: "Scopes requested from the provider at authorization.",
        resolve: (c) => setting("scopes")(c as never),
      }),
      grantedScopes: t.stringList({
        description:
          "Scopes the provider actually granted at the last authorization or refresh; empty before authorization.",
        resolve: (c) => setting("grantedScopes")(c as never),
      }),
      missingScopes: t.stringList({
        description:
          "Requested scopes the provider did not grant; empty when nothing is missing. While any are missing the credential is DEGRADED (INSUFFICIENT_SCOPES) and its token still works for the granted ones; reauthorizeCredential asks for them again.",
        resolve: (c) => setting("missingScopes")(c as never),
      }),
      extraAuthorizationParams: t.field({
        description:
          'Extra query parameters added to the authorization URL (e.g. `{"prompt": "consent"}`); an object of strings.',
        type: "JSON",
        resolve: (c) => setting("extraAuthorizationParams")(c as never),
      }),
      accessToken: t.field({
        description:
          "The current access token (write-only; preview and fingerprint only); null before the first token.",
        type: SecretRef,
        nullable: true,
        select: secretSelection,
        resolve: tokenSecret("accessToken"),
      }),
      refreshToken: t.field({
        description:
          "The refresh token (write-only; preview and fingerprint only); null when none is stored.",
        type: SecretRef,
        nullable: true,
        select: secretSelection,
        resolve: tokenSecret("refreshToken"),
      }),
      expiresAt: t.expose("expiresAt", {
        description:
          "When the current access token expires (ISO 8601, UTC); null when unknown or it does not expire. keyport refreshes ahead of it.",
        type: "DateTime",
        nullable: true,
      }),
      accountId: t.string({
        description:
          "The provider's id of the account that authorized (the ID token's `sub` when available); reauthorization must sign in to the same one. Null before authorization.",
        nullable: true,
        resolve: (c) => setting("accountId")(c as never),
      }),
      providerData: t.field({
        type: "JSON",
        description:
          "Token-response fields the provider's catalog entry keeps (Salesforce `instance_url`, Slack `team.id`), by path.",
        resolve: (c) => setting("providerData")(c as never),
      }),
      usePkce: t.boolean({
        description: "Whether the authorization code flow uses PKCE (S256). On by default.",
        resolve: (c) => setting("usePkce")(c as never),
      }),
      tokenEndpointAuthMethod: t.field({
        description: "How keyport authenticates to the token endpoint.",
        type: TokenEndpointAuthMethodEnum,
        resolve: (c) => setting("tokenEndpointAuthMethod")(c as never),
      }),
      audience: t.string({
        description:
          "The `audience` parameter sent with token requests (some providers such as Auth0 need it); null for none.",
        nullable: true,
        resolve: (c) => setting("audience")(c as never),
      }),
    };
  },
});

export const ClientCredentialsCredentialRef = builder.prismaNode("Credential", {
  variant: "ClientCredentialsCredential",
  ...globalId("OAuth 2.0 client-credentials connection"),
  authScopes: credentialsRead,
  interfaces: [CredentialBaseRef],
  select: { id: true, kind: true, workspaceId: true, settings: true },
  fields: (t) => ({
    clientId: t.string({
      description: "The OAuth client id.",
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).clientId,
    }),
    clientSecret: t.field({
      description: "The OAuth client secret (write-only; preview and fingerprint only).",
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "clientSecret"),
    }),
    tokenUrl: t.string({
      description: "The token endpoint URL (https).",
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).tokenUrl,
    }),
    scopes: t.stringList({
      description: "Scopes requested with each token; empty for the provider's default.",
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).scopes,
    }),
    audience: t.string({
      nullable: true,
      description: "The `audience` parameter sent with token requests; null for none.",
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).audience,
    }),
    tokenEndpointAuthMethod: t.field({
      description: "How keyport authenticates to the token endpoint.",
      type: TokenEndpointAuthMethodEnum,
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).tokenEndpointAuthMethod,
    }),
    accessToken: t.field({
      description:
        "The current access token (write-only; preview and fingerprint only); null before the first token.",
      type: SecretRef,
      nullable: true,
      select: secretSelection,
      resolve: tokenSecret("accessToken"),
    }),
    expiresAt: t.expose("expiresAt", {
      description:
        "When the current access token expires (ISO 8601, UTC); null when unknown or it does not expire. keyport refreshes ahead of it.",
      type: "DateTime",
      nullable: true,
    }),
  }),
});

export const CredentialUnion = builder.unionType("Credential", {
  description:
    "Any credential, as its concrete kind. Select common fields on CredentialBase and kind-specific ones with `... on OAuth2Credential` etc.",
  types: [
    BasicCredentialRef,
    BearerCredentialRef,
    OAuth2CredentialRef,
    ClientCredentialsCredentialRef,
  ],
  resolveType: (credential) =>
    kindTypeNames[(credential as { kind: keyof typeof kindTypeNames }).kind],
});

for (const [kind, typeName] of Object.entries(kindTypeNames)) {
  registerNodeLoader(
    typeName,
    (id, context) =>
      context.caller
        ? context.prisma.credential.findFirst({
            where: {
              id,
              kind: kind as keyof typeof kindTypeNames,
              ...credentialScope(context.caller),
            },
          })
        : Promise.resolve(null),
    credentialsRead.anyScope,
  );
}

builder.objectType(CredentialNotUsableError, {
  name: "CredentialNotUsableError",
  description: "The credential exists but its status does not allow handing out auth material.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.field({
      description: "The credential's current status.",
      type: CredentialStatusEnum,
      resolve: (error) => error.status,
    }),
    reason: t.field({
      description: "Why it is not usable; null when no reason is recorded.",
      type: StatusReasonRef,
      nullable: true,
      resolve: (error) => error.reason,
    }),
  }),
});

export { NameValueRef };

builder.objectType(CredentialProviderError, {
  name: "CredentialProviderError",
  description:
    "The provider refused or could not be reached (authorization, code exchange, token fetch or refresh).",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    code: t.field({
      description: "What went wrong, machine-readable.",
      type: CredentialErrorCodeEnum,
      resolve: (error) => error.code as never,
    }),
  }),
});
