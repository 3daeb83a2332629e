// GraphQL types of credentials: the CredentialBase interface, one Prisma variant per kind, the
// Credential union, and Secret (write-only, except `value` for callers with credentials:use).
import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder } from "../../builder.js";
import { type Context, callerOf, serviceDepsOf } from "../../context.js";
import { fieldError } from "../../lib/validation.js";
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
import { tokenEndpointAuthMethods } from "./kinds/common.js";
import { settingsOf } from "./kinds/index.js";
import { effectiveEndpoints, type OAuth2Settings } from "./kinds/oauth2.js";

export const CredentialKindEnum = builder.enumType("CredentialKind", {
  values: ["BASIC", "BEARER", "OAUTH2", "CLIENT_CREDENTIALS"] as const,
});
export const CredentialStatusEnum = builder.enumType("CredentialStatus", {
  values: ["PENDING_AUTHORIZATION", "ACTIVE", "DEGRADED", "INVALID"] as const,
});
export const CredentialErrorCodeEnum = builder.enumType("CredentialErrorCode", {
  values: [
    "INVALID_CREDENTIALS",
    "AUTHORIZATION_FAILED",
    "TOKEN_REFRESH_FAILED",
    "REFRESH_TOKEN_REVOKED",
    "INVALID_REDIRECT_URI",
    "INSUFFICIENT_SCOPES",
    "ACCOUNT_MISMATCH",
    "CONNECTION_REFUSED",
    "PROVIDER_UNAVAILABLE",
    "RATE_LIMITED",
    "ENDPOINT_NOT_ALLOWED",
    "AUTHORIZATION_DENIED",
  ] as const,
});
export const TokenPlacementEnum = builder.enumType("TokenPlacement", {
  values: ["HEADER", "QUERY", "PATH"] as const,
});
export const TokenEndpointAuthMethodEnum = builder.enumType("TokenEndpointAuthMethod", {
  values: tokenEndpointAuthMethods,
});

/** Reading credentials: what `credential(id)` requires, on every path to a credential. */
export const credentialsRead = { scope: "credentials:read" } as const;
/**
 * Types reached both from credentials (credentials:read) and from acquireCredentialHeaders
 * (credentials:use). The parent on each path still enforces its own rule.
 */
export const credentialsReadOrUse = {
  anyScope: ["credentials:read", "credentials:use"] as const,
};

export const StatusReasonRef = builder.objectRef<StatusReason>("StatusReason").implement({
  description: "Why a credential is not ACTIVE.",
  authScopes: credentialsReadOrUse,
  fields: (t) => ({
    code: t.field({ type: CredentialErrorCodeEnum, resolve: (reason) => reason.code as never }),
    message: t.exposeString("message"),
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
    isSet: t.boolean({ resolve: (secret) => secret.summary !== undefined }),
    preview: t.string({
      nullable: true,
      description:
        'The last 4 characters behind a mask ("••••3f9a"); null for values shorter than 12.',
      resolve: (secret) => secret.summary?.preview ?? null,
    }),
    fingerprint: t.string({
      nullable: true,
      description: "A keyed hash that tells two values apart without revealing them.",
      resolve: (secret) => secret.summary?.fingerprint ?? null,
    }),
    value: t.string({
      nullable: true,
      description: "The plaintext, for callers holding credentials:use; null for everyone else.",
      // On top of the type's credentials:read; without credentials:use the value is null.
      authScopes: { scope: "credentials:use" },
      unauthorizedResolver: () => null,
      resolve: async (secret, _args, context) => {
        if (!secret.summary || !context.caller?.scopes.has("credentials:use")) return null;
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
    id: t.globalID({ resolve: (c) => ({ type: kindTypeNames[c.kind], id: c.id }) }),
    name: t.exposeString("name"),
    description: t.exposeString("description", { nullable: true }),
    kind: t.expose("kind", { type: CredentialKindEnum }),
    status: t.expose("status", { type: CredentialStatusEnum }),
    statusReason: t.field({
      type: StatusReasonRef,
      nullable: true,
      select: { statusReasonCode: true, statusReasonMessage: true },
      resolve: (credential) =>
        credential.statusReasonCode
          ? { code: credential.statusReasonCode, message: credential.statusReasonMessage ?? "" }
          : null,
    }),
    environment: t.relation("environment"),
    providerKey: t.exposeString("providerKey", { nullable: true }),
    externalUserId: t.exposeString("externalUserId", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    updatedAt: t.expose("updatedAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    lastVerifiedAt: t.expose("lastVerifiedAt", { type: "DateTime", nullable: true }),
  }),
});

// The global id of every kind uses its own type name; the raw id is the row id.
const globalId = (typeName: string) => ({
  id: { field: "id" as const },
  description: `A ${typeName}.`,
});

export const BasicCredentialRef = builder.prismaNode("Credential", {
  variant: "BasicCredential",
  ...globalId("username and password login"),
  authScopes: credentialsRead,
  interfaces: [CredentialBaseRef],
  select: { id: true, kind: true, workspaceId: true, settings: true },
  fields: (t) => ({
    username: t.string({ resolve: (c) => settingsOf<BasicSettings>(c).username }),
    password: t.field({
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "password"),
    }),
    host: t.string({ nullable: true, resolve: (c) => settingsOf<BasicSettings>(c).host }),
    port: t.int({ nullable: true, resolve: (c) => settingsOf<BasicSettings>(c).port }),
    database: t.string({ nullable: true, resolve: (c) => settingsOf<BasicSettings>(c).database }),
  }),
});

const NameValueRef = builder.objectRef<{ name: string; value: string }>("NameValue").implement({
  // Template headers (under a credential) and acquired headers (credentials:use).
  authScopes: credentialsReadOrUse,
  fields: (t) => ({ name: t.exposeString("name"), value: t.exposeString("value") }),
});

export const TokenRequestTemplateRef = builder
  .objectRef<ReturnType<typeof redactedTemplate>>("TokenRequestTemplate")
  .implement({
    description:
      "How to obtain a new token from a non-standard endpoint. The endpoint, body and header values may use {{refreshToken}}, {{clientId}}, {{clientSecret}} and {{accessToken}}. Header values and a body that are more than placeholders are secrets: stored encrypted and shown masked.",
    authScopes: credentialsRead,
    fields: (t) => ({
      endpoint: t.exposeString("endpoint"),
      method: t.exposeString("method"),
      headers: t.field({ type: [NameValueRef], resolve: (template) => template.headers }),
      body: t.exposeString("body", { nullable: true }),
      accessTokenPath: t.exposeString("accessTokenPath"),
      refreshTokenPath: t.exposeString("refreshTokenPath", { nullable: true }),
      expiresInPath: t.exposeString("expiresInPath", { nullable: true }),
      expiresAtPath: t.exposeString("expiresAtPath", {
        nullable: true,
        description:
          "JSON path to the token's absolute expiry (ISO 8601 or epoch seconds), used when expiresInPath gives nothing.",
      }),
      accessTokenDurationMinutes: t.exposeInt("accessTokenDurationMinutes", { nullable: true }),
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
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "token"),
    }),
    refreshToken: t.field({
      type: SecretRef,
      nullable: true,
      select: secretSelection,
      resolve: (c) =>
        c.secrets.some((s) => s.field === "refreshToken") ? secretOf(c, "refreshToken") : null,
    }),
    placement: t.field({
      type: TokenPlacementEnum,
      resolve: (c) => settingsOf<BearerSettings>(c).placement,
    }),
    headerName: t.string({ resolve: (c) => settingsOf<BearerSettings>(c).headerName }),
    scheme: t.string({
      nullable: true,
      description: 'Written before the token in the header ("Bearer"); null for none.',
      resolve: (c) => settingsOf<BearerSettings>(c).scheme || null,
    }),
    queryParameter: t.string({
      nullable: true,
      resolve: (c) => settingsOf<BearerSettings>(c).queryParameter,
    }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
    refreshRequest: t.field({
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
      clientId: t.string({ resolve: (c) => setting("clientId")(c as never) }),
      clientSecret: t.field({
        type: SecretRef,
        select: secretSelection,
        resolve: (c) => secretOf(c, "clientSecret"),
      }),
      issuer: t.string({ nullable: true, resolve: (c) => setting("issuer")(c as never) }),
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
      scopes: t.stringList({ resolve: (c) => setting("scopes")(c as never) }),
      grantedScopes: t.stringList({ resolve: (c) => setting("grantedScopes")(c as never) }),
      missingScopes: t.stringList({
        description:
          "Requested scopes the provider did not grant; empty when nothing is missing. While any are missing the credential is DEGRADED (INSUFFICIENT_SCOPES) and its token still works for the granted ones; reauthorizeCredential asks for them again.",
        resolve: (c) => setting("missingScopes")(c as never),
      }),
      extraAuthorizationParams: t.field({
        type: "JSON",
        resolve: (c) => setting("extraAuthorizationParams")(c as never),
      }),
      accessToken: t.field({
        type: SecretRef,
        nullable: true,
        select: secretSelection,
        resolve: tokenSecret("accessToken"),
      }),
      refreshToken: t.field({
        type: SecretRef,
        nullable: true,
        select: secretSelection,
        resolve: tokenSecret("refreshToken"),
      }),
      expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
      accountId: t.string({ nullable: true, resolve: (c) => setting("accountId")(c as never) }),
      usePkce: t.boolean({ resolve: (c) => setting("usePkce")(c as never) }),
      tokenEndpointAuthMethod: t.field({
        type: TokenEndpointAuthMethodEnum,
        resolve: (c) => setting("tokenEndpointAuthMethod")(c as never),
      }),
      audience: t.string({ nullable: true, resolve: (c) => setting("audience")(c as never) }),
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
    clientId: t.string({ resolve: (c) => settingsOf<ClientCredentialsSettings>(c).clientId }),
    clientSecret: t.field({
      type: SecretRef,
      select: secretSelection,
      resolve: (c) => secretOf(c, "clientSecret"),
    }),
    tokenUrl: t.string({ resolve: (c) => settingsOf<ClientCredentialsSettings>(c).tokenUrl }),
    scopes: t.stringList({ resolve: (c) => settingsOf<ClientCredentialsSettings>(c).scopes }),
    audience: t.string({
      nullable: true,
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).audience,
    }),
    tokenEndpointAuthMethod: t.field({
      type: TokenEndpointAuthMethodEnum,
      resolve: (c) => settingsOf<ClientCredentialsSettings>(c).tokenEndpointAuthMethod,
    }),
    accessToken: t.field({
      type: SecretRef,
      nullable: true,
      select: secretSelection,
      resolve: tokenSecret("accessToken"),
    }),
    expiresAt: t.expose("expiresAt", { type: "DateTime", nullable: true }),
  }),
});

export const CredentialUnion = builder.unionType("Credential", {
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
    credentialsRead.scope,
  );
}

builder.objectType(CredentialNotUsableError, {
  name: "CredentialNotUsableError",
  description: "The credential exists but its status does not allow handing out auth material.",
  authScopes: { authenticated: true },
  interfaces: [ErrorInterface],
  fields: (t) => ({
    status: t.field({ type: CredentialStatusEnum, resolve: (error) => error.status }),
    reason: t.field({ type: StatusReasonRef, nullable: true, resolve: (error) => error.reason }),
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
    code: t.field({ type: CredentialErrorCodeEnum, resolve: (error) => error.code as never }),
  }),
});
