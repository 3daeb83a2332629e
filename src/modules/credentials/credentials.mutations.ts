import { encodeGlobalID } from "@pothos/plugin-relay";
import { builder, workspaceWide } from "../../builder.js";
import { callerOf } from "../../context.js";
import { fieldError } from "../../lib/validation.js";
import { commonErrors } from "../common/errors.types.js";
import { rawIdOf } from "../common/ids.js";
import {
  CredentialInUseError,
  CredentialNotUsableError,
  CredentialProviderError,
} from "./credentials.errors.js";
import {
  acquireAuth,
  createCredential,
  deleteCredential,
  rewrapSecrets,
  rotateSecret,
  updateCredential,
} from "./credentials.service.js";
import {
  CredentialUnion,
  credentialGlobalId,
  credentialRawId,
  NameValueRef,
  serviceDeps,
  TokenEndpointAuthMethodEnum,
  TokenPlacementEnum,
} from "./credentials.types.js";
import type { CredentialKind } from "./kinds/common.js";

// Input fields that may span lines; every other string input is refused with CR or LF.
const multiline = { multiline: true };

// Kind inputs. URLs are strings here so that a bad one is reported on its field.

const BasicCredentialInput = builder.inputType("BasicCredentialInput", {
  fields: (t) => ({
    username: t.string({ required: true }),
    password: t.string(),
    host: t.string({ description: "For database and SMTP logins." }),
    port: t.int(),
    database: t.string(),
  }),
});

const TokenRequestHeaderInput = builder.inputType("TokenRequestHeaderInput", {
  fields: (t) => ({ name: t.string({ required: true }), value: t.string({ required: true }) }),
});

const TokenRequestTemplateInput = builder.inputType("TokenRequestTemplateInput", {
  fields: (t) => ({
    endpoint: t.string({ required: true }),
    method: t.string({ description: "POST (default), GET or PUT." }),
    headers: t.field({ type: [TokenRequestHeaderInput] }),
    body: t.string({
      description:
        "May use {{refreshToken}}, {{clientId}}, {{clientSecret}} and {{accessToken}}: JSON-escaped in a JSON body, url-encoded in a form body (by Content-Type, else by its first character).",
      extensions: multiline,
    }),
    accessTokenPath: t.string({ required: true, description: "JSON path, e.g. data.access_token" }),
    refreshTokenPath: t.string(),
    expiresInPath: t.string({ description: "JSON path to the token's lifetime in seconds." }),
    expiresAtPath: t.string({
      description:
        "JSON path to the token's absolute expiry (ISO 8601 or epoch seconds), used when expiresInPath gives nothing.",
    }),
    accessTokenDurationMinutes: t.int({
      description: "The token's lifetime when the response gives none.",
    }),
  }),
});

const BearerCredentialInput = builder.inputType("BearerCredentialInput", {
  fields: (t) => ({
    token: t.string({ required: true }),
    refreshToken: t.string(),
    clientId: t.string({ description: "Sent as {{clientId}} by the refresh request." }),
    clientSecret: t.string({ description: "Sent as {{clientSecret}} by the refresh request." }),
    placement: t.field({
      type: TokenPlacementEnum,
      description: "HEADER (default), QUERY or PATH.",
    }),
    headerName: t.string({ description: 'Default "Authorization".' }),
    scheme: t.string({ description: 'Default "Bearer"; "" for none.' }),
    queryParameter: t.string({ description: "Required for QUERY placement." }),
    expiresAt: t.field({ type: "DateTime" }),
    refreshRequest: t.field({ type: TokenRequestTemplateInput }),
  }),
});

const OAuth2CredentialInput = builder.inputType("OAuth2CredentialInput", {
  fields: (t) => ({
    clientId: t.string({ required: true }),
    clientSecret: t.string(),
    issuer: t.string({
      description:
        "Expected `iss` (RFC 9207); enough on its own when the server publishes metadata.",
    }),
    authorizationUrl: t.string(),
    tokenUrl: t.string(),
    revocationUrl: t.string(),
    scopes: t.stringList(),
    extraAuthorizationParams: t.field({
      type: "JSON",
      description: 'e.g. {"access_type": "offline"}',
    }),
    usePkce: t.boolean({ description: "Default true (S256)." }),
    tokenEndpointAuthMethod: t.field({ type: TokenEndpointAuthMethodEnum }),
    audience: t.string(),
    accessToken: t.string({ description: "Import an existing access token." }),
    refreshToken: t.string({ description: "Import an existing refresh token." }),
    expiresAt: t.field({
      type: "DateTime",
      description: "When the imported access token expires.",
    }),
  }),
});

const ClientCredentialsCredentialInput = builder.inputType("ClientCredentialsCredentialInput", {
  fields: (t) => ({
    clientId: t.string({ required: true }),
    clientSecret: t.string({ required: true }),
    tokenUrl: t.string({ required: true }),
    scopes: t.stringList(),
    audience: t.string(),
    tokenEndpointAuthMethod: t.field({ type: TokenEndpointAuthMethodEnum }),
  }),
});

const CreateCredentialInput = builder.inputType("CreateCredentialInput", {
  description: "Give exactly one of basic, bearer, oauth2 or clientCredentials.",
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string({ extensions: multiline }),
    environmentId: t.id({
      description: "Required unless your API key is limited to one environment.",
    }),
    providerKey: t.string(),
    externalUserId: t.string({
      description: "Your own id of the user this credential belongs to.",
    }),
    verify: t.boolean({
      defaultValue: true,
      description: "Check the credential with its provider first.",
    }),
    basic: t.field({ type: BasicCredentialInput }),
    bearer: t.field({ type: BearerCredentialInput }),
    oauth2: t.field({ type: OAuth2CredentialInput }),
    clientCredentials: t.field({ type: ClientCredentialsCredentialInput }),
  }),
});

const CredentialSuccess = (name: string) =>
  builder.objectRef<{ credential: { id: string; kind: CredentialKind } }>(name).implement({
    // The credential inside needs credentials:read on top (its own type rule).
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      credentialId: t.id({
        description:
          "The credential's id. A caller without credentials:read selects this instead of `credential`.",
        resolve: (result) => credentialGlobalId(result.credential),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now; needs credentials:read.",
        resolve: (result) => result.credential as never,
      }),
    }),
  });

builder.mutationField("createCredential", (t) =>
  t.field({
    type: CredentialSuccess("CreateCredentialSuccess"),
    authScopes: { scope: "credentials:write" },
    errors: { types: [...commonErrors, CredentialProviderError] },
    args: { input: t.arg({ type: CreateCredentialInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const environmentId = input.environmentId
        ? rawIdOf(String(input.environmentId), "Environment", ["environmentId"])
        : null;
      const credential = await createCredential(serviceDeps(context), callerOf(context), {
        ...input,
        environmentId,
      });
      return { credential };
    },
  }),
);

const endpointSecret = (endpoints: string) =>
  `Required when ${endpoints} changes, and only then: keyport sends a secret only to the endpoints it was entered for.`;

const BasicCredentialUpdateInput = builder.inputType("BasicCredentialUpdateInput", {
  fields: (t) => ({
    username: t.string(),
    host: t.string(),
    port: t.int(),
    database: t.string(),
    password: t.string({ description: endpointSecret("host") }),
  }),
});
const BearerCredentialUpdateInput = builder.inputType("BearerCredentialUpdateInput", {
  fields: (t) => ({
    placement: t.field({ type: TokenPlacementEnum }),
    headerName: t.string(),
    scheme: t.string(),
    queryParameter: t.string(),
    expiresAt: t.field({ type: "DateTime" }),
    refreshRequest: t.field({ type: TokenRequestTemplateInput }),
    refreshToken: t.string({ description: endpointSecret("refreshRequest.endpoint") }),
    clientId: t.string({ description: "Sent as {{clientId}} by the refresh request." }),
    clientSecret: t.string({ description: endpointSecret("refreshRequest.endpoint") }),
    token: t.string({
      description:
        "Required when refreshRequest.endpoint changes and the refresh request uses {{accessToken}}, and only then: keyport sends a secret only to the endpoints it was entered for.",
    }),
  }),
});
const OAuth2CredentialUpdateInput = builder.inputType("OAuth2CredentialUpdateInput", {
  fields: (t) => ({
    clientId: t.string(),
    issuer: t.string(),
    authorizationUrl: t.string(),
    tokenUrl: t.string(),
    revocationUrl: t.string(),
    scopes: t.stringList(),
    extraAuthorizationParams: t.field({ type: "JSON" }),
    usePkce: t.boolean(),
    tokenEndpointAuthMethod: t.field({ type: TokenEndpointAuthMethodEnum }),
    audience: t.string(),
    clientSecret: t.string({
      description: `${endpointSecret("tokenUrl, revocationUrl or issuer")} The stored tokens are dropped (and revoked at the old endpoint); authorize again.`,
    }),
  }),
});
const ClientCredentialsCredentialUpdateInput = builder.inputType(
  "ClientCredentialsCredentialUpdateInput",
  {
    fields: (t) => ({
      clientId: t.string(),
      tokenUrl: t.string(),
      scopes: t.stringList(),
      audience: t.string(),
      tokenEndpointAuthMethod: t.field({ type: TokenEndpointAuthMethodEnum }),
      clientSecret: t.string({
        description: `${endpointSecret("tokenUrl")} The cached token is dropped; the next use fetches one.`,
      }),
    }),
  },
);

const UpdateCredentialInput = builder.inputType("UpdateCredentialInput", {
  description:
    "Omitted fields stay as they are; null clears an optional one. The kind never changes. Secrets change through rotateCredential, except that changing where a secret is sent (token, revocation or issuer URL, a refresh request's endpoint, a login's host) needs that secret again here.",
  fields: (t) => ({
    id: t.id({ required: true }),
    name: t.string(),
    description: t.string({ extensions: multiline }),
    providerKey: t.string(),
    externalUserId: t.string(),
    basic: t.field({ type: BasicCredentialUpdateInput }),
    bearer: t.field({ type: BearerCredentialUpdateInput }),
    oauth2: t.field({ type: OAuth2CredentialUpdateInput }),
    clientCredentials: t.field({ type: ClientCredentialsCredentialUpdateInput }),
  }),
});

builder.mutationField("updateCredential", (t) =>
  t.field({
    type: CredentialSuccess("UpdateCredentialSuccess"),
    authScopes: { scope: "credentials:write" },
    errors: { types: commonErrors },
    args: { input: t.arg({ type: UpdateCredentialInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await updateCredential(serviceDeps(context), callerOf(context), id, input);
      return { credential };
    },
  }),
);

const DeleteCredentialInput = builder.inputType("DeleteCredentialInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    force: t.boolean({
      defaultValue: false,
      description:
        "Delete even if connectors use it; they become NEEDS_CREDENTIAL and the DELETED event lists them.",
    }),
  }),
});

export const DeleteCredentialSuccess = builder
  .objectRef<{ deletedCredentialId: string; detachedConnectors: { id: string }[] }>(
    "DeleteCredentialSuccess",
  )
  .implement({
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      deletedCredentialId: t.exposeID("deletedCredentialId"),
      detachedConnectorIds: t.idList({
        description: "Connectors that used the credential (force) and now need one.",
        resolve: (result) =>
          result.detachedConnectors.map((c) => encodeGlobalID("Connector", c.id)),
      }),
      // detachedConnectors (the Connector objects) is added by the connectors module.
    }),
  });

builder.mutationField("deleteCredential", (t) =>
  t.field({
    type: DeleteCredentialSuccess,
    authScopes: { scope: "credentials:write" },
    errors: { types: [...commonErrors, CredentialInUseError] },
    args: { input: t.arg({ type: DeleteCredentialInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const { detachedConnectors } = await deleteCredential(
        serviceDeps(context),
        callerOf(context),
        id,
        { force: input.force ?? false },
      );
      return { deletedCredentialId: String(input.id), detachedConnectors };
    },
  }),
);

const RotateSecretInput = builder.inputType("RotateSecretInput", {
  isOneOf: true,
  description: "The new secret: password (BASIC), token (BEARER) or clientSecret (OAuth kinds).",
  fields: (t) => ({
    password: t.string(),
    token: t.string(),
    clientSecret: t.string(),
  }),
});

const RotateCredentialInput = builder.inputType("RotateCredentialInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    secret: t.field({
      type: RotateSecretInput,
      description:
        "Omit on OAUTH2 and CLIENT_CREDENTIALS credentials to fetch a new access token now.",
    }),
    overlapSeconds: t.int({
      defaultValue: 0,
      description: "Keep the previous secret this long for rollback (at most 7 days).",
    }),
  }),
});

builder.mutationField("rotateCredential", (t) =>
  t.field({
    type: CredentialSuccess("RotateCredentialSuccess"),
    authScopes: { scope: "credentials:write" },
    errors: { types: [...commonErrors, CredentialProviderError] },
    args: { input: t.arg({ type: RotateCredentialInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await rotateSecret(serviceDeps(context), callerOf(context), id, input);
      return { credential };
    },
  }),
);

const AcquireCredentialHeadersInput = builder.inputType("AcquireCredentialHeadersInput", {
  fields: (t) => ({
    credentialId: t.id({ required: true }),
    minValiditySeconds: t.int({
      defaultValue: 60,
      description: "The material must stay valid at least this long.",
    }),
  }),
});

const AcquireCredentialHeadersSuccess = builder
  .objectRef<{
    headers: { name: string; value: string }[];
    queryParameters: { name: string; value: string }[];
    pathParameters: { name: string; value: string }[];
    expiresAt: Date | null;
  }>("AcquireCredentialHeadersSuccess")
  .implement({
    description: "Ready-to-use auth material. It is secret: do not log it.",
    authScopes: { scope: "credentials:use" },
    fields: (t) => ({
      headers: t.field({ type: [NameValueRef], resolve: (result) => result.headers }),
      queryParameters: t.field({
        type: [NameValueRef],
        resolve: (result) => result.queryParameters,
      }),
      pathParameters: t.field({
        type: [NameValueRef],
        description: "Values to substitute into the request path (PATH placement).",
        resolve: (result) => result.pathParameters,
      }),
      expiresAt: t.field({
        type: "DateTime",
        nullable: true,
        resolve: (result) => result.expiresAt,
      }),
    }),
  });

builder.mutationField("acquireCredentialHeaders", (t) =>
  t.field({
    type: AcquireCredentialHeadersSuccess,
    authScopes: { scope: "credentials:use" },
    errors: { types: [...commonErrors, CredentialNotUsableError] },
    args: { input: t.arg({ type: AcquireCredentialHeadersInput, required: true }) },
    resolve: (_root, { input }, context) => {
      const id = credentialRawId(input.credentialId, ["credentialId"]);
      return acquireAuth(
        serviceDeps(context),
        callerOf(context),
        id,
        input.minValiditySeconds ?? 60,
      );
    },
  }),
);

const RewrapSecretsInput = builder.inputType("RewrapSecretsInput", {
  fields: (t) => ({
    batchSize: t.int({
      defaultValue: 100,
      description: "Secrets re-encrypted per batch (1-1000).",
    }),
  }),
});

const RewrapSecretsSuccess = builder
  .objectRef<{ rewrapped: number; remaining: number; activeKeyId: string }>("RewrapSecretsSuccess")
  .implement({
    authScopes: { scope: "admin" },
    fields: (t) => ({
      rewrapped: t.exposeInt("rewrapped"),
      remaining: t.exposeInt("remaining", { description: "Secrets still under another key." }),
      activeKeyId: t.exposeString("activeKeyId"),
    }),
  });

builder.mutationField("rewrapSecrets", (t) =>
  t.field({
    type: RewrapSecretsSuccess,
    ...workspaceWide("admin"),
    description: "Re-encrypts your workspace's secrets under the active encryption key.",
    errors: { types: commonErrors },
    args: { input: t.arg({ type: RewrapSecretsInput, required: true }) },
    resolve: (_root, { input }, context) => {
      const batchSize = input.batchSize ?? 100;
      if (batchSize < 1 || batchSize > 1000)
        throw fieldError(["batchSize"], "must be between 1 and 1000");
      const { keyRing, logger } = context.services;
      return rewrapSecrets(
        { prisma: context.prisma, keyRing, logger },
        { workspaceId: callerOf(context).workspaceId, batchSize },
      );
    },
  }),
);
