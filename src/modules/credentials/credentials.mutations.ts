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
  updateCredential,
} from "./credentials.service.js";
import {
  CredentialUnion,
  credentialGlobalId,
  credentialRawId,
  credentialsWriteOrConnect,
  NameValueRef,
  serviceDeps,
  TokenEndpointAuthMethodEnum,
  TokenPlacementEnum,
} from "./credentials.types.js";
import type { CredentialKind } from "./kinds/common.js";
import { CredentialVerificationError } from "./verification.service.js";

// Input fields that may span lines; every other string input is refused with CR or LF.
const multiline = { multiline: true };

// Kind inputs. URLs are strings here so that a bad one is reported on its field.

const BasicCredentialInput = builder.inputType("BasicCredentialInput", {
  description: "A username-and-password login (kind BASIC).",
  fields: (t) => ({
    username: t.string({ description: "The login name.", required: true }),
    password: t.string({ description: "The password. Stored encrypted; never shown again." }),
    host: t.string({ description: "For database and SMTP logins." }),
    port: t.int({ description: "TCP port (1–65535)." }),
    database: t.string({ description: "Database name, for database logins." }),
  }),
});

const TokenRequestHeaderInput = builder.inputType("TokenRequestHeaderInput", {
  description: "One header of a token request.",
  fields: (t) => ({
    name: t.string({ required: true, description: "Header name (e.g. `Content-Type`)." }),
    value: t.string({ required: true, description: "Header value; may use the placeholders." }),
  }),
});

const TokenRequestTemplateInput = builder.inputType("TokenRequestTemplateInput", {
  description:
    "How to obtain a new token from a non-standard endpoint. Body and header values may use {{refreshToken}}, {{clientId}} and {{clientSecret}}; the endpoint must be https.",
  fields: (t) => ({
    endpoint: t.string({
      description: "The token endpoint (https URL); it must pass keyport's outbound policy.",
      required: true,
    }),
    method: t.string({ description: "POST (default), GET or PUT." }),
    headers: t.field({
      description: "Headers to send; values may use the placeholders.",
      type: [TokenRequestHeaderInput],
    }),
    body: t.string({
      description:
        "May use {{refreshToken}}, {{clientId}}, {{clientSecret}} and {{accessToken}}: JSON-escaped in a JSON body, url-encoded in a form body (by Content-Type, else by its first character).",
      extensions: multiline,
    }),
    accessTokenPath: t.string({ required: true, description: "JSON path, e.g. data.access_token" }),
    refreshTokenPath: t.string({
      description:
        "Dot path to a rotated refresh token in the JSON response, if the endpoint returns one.",
    }),
    expiresInPath: t.string({
      description: "Dot path to the token lifetime in seconds in the JSON response.",
    }),
    expiresAtPath: t.string({
      description:
        "Dot path to the token's absolute expiry (ISO 8601 or epoch seconds), used when expiresInPath gives nothing.",
    }),
    accessTokenDurationMinutes: t.int({
      description: "Token lifetime in minutes when the response does not say (positive).",
    }),
  }),
});

const BearerCredentialInput = builder.inputType("BearerCredentialInput", {
  description: "A bearer token or API key (kind BEARER), optionally with a way to refresh it.",
  fields: (t) => ({
    token: t.string({
      description: "The token or API key. Stored encrypted; never shown again.",
      required: true,
    }),
    refreshToken: t.string({
      description: "A refresh token for refreshRequest's {{refreshToken}}. Stored encrypted.",
    }),
    clientId: t.string({ description: "Sent as {{clientId}} by the refresh request." }),
    clientSecret: t.string({ description: "Sent as {{clientSecret}} by the refresh request." }),
    placement: t.field({
      type: TokenPlacementEnum,
      description: "HEADER (default), QUERY or PATH.",
    }),
    headerName: t.string({ description: 'Default "Authorization".' }),
    scheme: t.string({ description: 'Default "Bearer"; "" for none.' }),
    queryParameter: t.string({ description: "Required for QUERY placement." }),
    expiresAt: t.field({
      description:
        "When the token expires, if known; with refreshRequest, keyport renews it ahead of that time.",
      type: "DateTime",
    }),
    refreshRequest: t.field({
      description: "How to fetch a new token; omit for a static token.",
      type: TokenRequestTemplateInput,
    }),
  }),
});

const OAuth2CredentialInput = builder.inputType("OAuth2CredentialInput", {
  description:
    "An OAuth 2.0 authorization-code client (kind OAUTH2). Give `issuer` (endpoints are discovered) or `authorizationUrl` and `tokenUrl`. The credential starts PENDING_AUTHORIZATION unless tokens are imported; then run authorizeCredential.",
  fields: (t) => ({
    clientId: t.string({
      description: "The client id registered with the provider.",
      required: true,
    }),
    clientSecret: t.string({
      description:
        "The OAuth client secret. Stored encrypted; never shown again. Omit for public clients (PKCE only).",
    }),
    issuer: t.string({
      description:
        "Expected `iss` (RFC 9207); enough on its own when the server publishes metadata.",
    }),
    authorizationUrl: t.string({
      description:
        "The provider's authorization endpoint (https). Optional with an issuer that publishes metadata.",
    }),
    tokenUrl: t.string({
      description:
        "The provider's token endpoint (https). Optional with an issuer that publishes metadata.",
    }),
    revocationUrl: t.string({
      description:
        "The provider's revocation endpoint (RFC 7009), used when the credential is deleted or its secret changes; optional.",
    }),
    scopes: t.stringList({
      description: "Scopes to request at authorization; empty for the provider's default.",
    }),
    extraAuthorizationParams: t.field({
      type: "JSON",
      description: 'e.g. {"access_type": "offline"}',
    }),
    usePkce: t.boolean({ description: "Default true (S256)." }),
    tokenEndpointAuthMethod: t.field({
      description:
        "How to send the client secret to the token endpoint; default CLIENT_SECRET_BASIC.",
      type: TokenEndpointAuthMethodEnum,
    }),
    audience: t.string({
      description:
        "An `audience` parameter for the token requests, for providers that need one (e.g. Auth0).",
    }),
    accessToken: t.string({ description: "Import an existing access token." }),
    refreshToken: t.string({ description: "Import an existing refresh token." }),
    expiresAt: t.field({
      type: "DateTime",
      description: "When the imported access token expires.",
    }),
  }),
});

const ClientCredentialsCredentialInput = builder.inputType("ClientCredentialsCredentialInput", {
  description:
    "An OAuth 2.0 client-credentials client (kind CLIENT_CREDENTIALS); keyport fetches a token at once (unless verify is false) and renews it before expiry.",
  fields: (t) => ({
    clientId: t.string({ description: "The OAuth client id.", required: true }),
    clientSecret: t.string({
      description: "The client secret. Stored encrypted; never shown again.",
      required: true,
    }),
    tokenUrl: t.string({ description: "The token endpoint (https).", required: true }),
    scopes: t.stringList({
      description: "Scopes to request with each token; empty for the provider's default.",
    }),
    audience: t.string({
      description: "An `audience` parameter for token requests, if the provider needs one.",
    }),
    tokenEndpointAuthMethod: t.field({
      description: "How to send the client secret; default CLIENT_SECRET_BASIC.",
      type: TokenEndpointAuthMethodEnum,
    }),
  }),
});

const CreateCredentialInput = builder.inputType("CreateCredentialInput", {
  description: "Give exactly one of basic, bearer, oauth2 or clientCredentials.",
  fields: (t) => ({
    name: t.string({
      description: "Display name; unique within the environment (1–200 characters).",
      required: true,
    }),
    description: t.string({
      description: "A note on what the credential is for; may span lines.",
      extensions: multiline,
    }),
    environmentId: t.id({
      description: "Required unless your API key is limited to one environment.",
    }),
    providerKey: t.string({
      description:
        "A provider from the catalog (see `providers`): keyport fills in what the kind input leaves out (endpoints, scopes, PKCE, placement) and checks the given fields against the provider's form. Keys not in the catalog are kept as a plain label.",
    }),
    connectionConfig: t.field({
      type: "JSON",
      description:
        'The provider\'s connection variables, e.g. {"subdomain": "acme"} (see `Provider.connectionVariables`).',
    }),
    externalUserId: t.string({
      description:
        "Your own id of the end user this credential belongs to (e.g. your user's primary key); list their credentials with `credentials(filter: { externalUserId })`.",
    }),
    verify: t.boolean({
      defaultValue: true,
      description:
        "Check the credential with its provider before storing it: the catalog's verify request (BASIC, BEARER), a token request (CLIENT_CREDENTIALS) or the issuer's metadata (OAUTH2 with an issuer). A failure stores nothing and returns CredentialVerificationError.",
    }),
    basic: t.field({ description: "Settings of a BASIC credential.", type: BasicCredentialInput }),
    bearer: t.field({
      description: "Settings of a BEARER credential.",
      type: BearerCredentialInput,
    }),
    oauth2: t.field({
      description: "Settings of an OAUTH2 credential.",
      type: OAuth2CredentialInput,
    }),
    clientCredentials: t.field({
      description: "Settings of a CLIENT_CREDENTIALS credential.",
      type: ClientCredentialsCredentialInput,
    }),
  }),
});

const CredentialSuccess = (
  name: string,
  authScopes: { scope: "credentials:write" } | typeof credentialsWriteOrConnect = {
    scope: "credentials:write",
  },
) =>
  builder.objectRef<{ credential: { id: string; kind: CredentialKind } }>(name).implement({
    description: "The mutation succeeded; the credential as it is now.",
    // The credential inside needs credentials:read on top (its own type rule).
    authScopes,
    fields: (t) => ({
      credentialId: t.id({
        description:
          "The credential's id. A caller without credentials:read selects this instead of `credential`.",
        resolve: (result) => credentialGlobalId(result.credential),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now.",
        resolve: (result) => result.credential as never,
      }),
    }),
  });

builder.mutationField("createCredential", (t) =>
  t.field({
    description:
      "Stores a new credential, secrets encrypted. Unless `verify: false`, the provider is asked first (the catalog's verify request for BASIC and BEARER, a token request for CLIENT_CREDENTIALS, the issuer's metadata for OAUTH2 with an issuer), so a wrong secret or URL is reported before anything is stored. Through a connect session, externalUserId and environmentId are the session's (another value is a validation error), and providerKey must be one of the session's providers when it lists any. OAUTH2 credentials start PENDING_AUTHORIZATION: follow with authorizeCredential. Returns ValidationError (bad or conflicting fields, duplicate name, several or no kinds given), NotFoundError (unknown environment) CredentialProviderError (the provider refused a token request or discovery) or CredentialVerificationError (the provider's verify request failed; nothing stored).",
    type: CredentialSuccess("CreateCredentialSuccess", credentialsWriteOrConnect),
    authScopes: credentialsWriteOrConnect,
    errors: {
      types: [...commonErrors, CredentialProviderError, CredentialVerificationError],
      union: {
        description:
          "The created credential, or why not: ValidationError, NotFoundError (environment), CredentialProviderError or CredentialVerificationError.",
      },
    },
    args: {
      input: t.arg({
        description: "The credential's name, environment, owner and exactly one kind's settings.",
        type: CreateCredentialInput,
        required: true,
      }),
    },
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
  description: "Changes to a BASIC credential; omitted fields stay as they are.",
  fields: (t) => ({
    username: t.string({ description: "New login name." }),
    host: t.string({ description: "New host; changing it requires the password again." }),
    port: t.int({ description: "New TCP port (1–65535); null clears it." }),
    database: t.string({ description: "New database name; null clears it." }),
    password: t.string({ description: endpointSecret("host") }),
  }),
});
const BearerCredentialUpdateInput = builder.inputType("BearerCredentialUpdateInput", {
  description:
    "Changes to a BEARER credential; omitted fields stay as they are. The token itself changes through rotateCredential.",
  fields: (t) => ({
    placement: t.field({
      description: "Where the token goes in requests.",
      type: TokenPlacementEnum,
    }),
    headerName: t.string({ description: "The header for HEADER placement." }),
    scheme: t.string({ description: 'The scheme before the token ("Bearer"); "" for none.' }),
    queryParameter: t.string({ description: "The parameter for QUERY placement." }),
    expiresAt: t.field({
      description: "When the current token expires; null when unknown.",
      type: "DateTime",
    }),
    refreshRequest: t.field({
      description: "How to fetch a new token; null to make the token static.",
      type: TokenRequestTemplateInput,
    }),
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
  description:
    "Changes to an OAUTH2 credential; omitted fields stay as they are. Changed scopes take effect at the next authorization.",
  fields: (t) => ({
    clientId: t.string({ description: "New client id." }),
    issuer: t.string({
      description: "New issuer; endpoints not configured are discovered from it.",
    }),
    authorizationUrl: t.string({ description: "New authorization endpoint (https)." }),
    tokenUrl: t.string({ description: "New token endpoint (https)." }),
    revocationUrl: t.string({ description: "New revocation endpoint; null clears it." }),
    scopes: t.stringList({ description: "Scopes to request at the next authorization." }),
    extraAuthorizationParams: t.field({
      description: "Extra query parameters for the authorization URL (an object of strings).",
      type: "JSON",
    }),
    usePkce: t.boolean({ description: "Whether to use PKCE (S256)." }),
    tokenEndpointAuthMethod: t.field({
      description: "How to send the client secret to the token endpoint.",
      type: TokenEndpointAuthMethodEnum,
    }),
    audience: t.string({ description: "New `audience` parameter; null clears it." }),
    clientSecret: t.string({
      description: `${endpointSecret("tokenUrl, revocationUrl or issuer")} The stored tokens are dropped (and revoked at the old endpoint); authorize again.`,
    }),
  }),
});
const ClientCredentialsCredentialUpdateInput = builder.inputType(
  "ClientCredentialsCredentialUpdateInput",
  {
    description: "Changes to a CLIENT_CREDENTIALS credential; omitted fields stay as they are.",
    fields: (t) => ({
      clientId: t.string({ description: "New client id." }),
      tokenUrl: t.string({
        description: "New token endpoint (https); requires the client secret again.",
      }),
      scopes: t.stringList({ description: "Scopes to request with each token." }),
      audience: t.string({ description: "New `audience` parameter; null clears it." }),
      tokenEndpointAuthMethod: t.field({
        description: "How to send the client secret.",
        type: TokenEndpointAuthMethodEnum,
      }),
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
    id: t.id({ description: "The credential's global id.", required: true }),
    name: t.string({ description: "New display name; unique within the environment." }),
    description: t.string({ description: "New note; null clears it.", extensions: multiline }),
    providerKey: t.string({ description: "New provider key; null clears it." }),
    externalUserId: t.string({ description: "New end-user id; null clears it." }),
    basic: t.field({
      description: "Changes for a BASIC credential (only for that kind).",
      type: BasicCredentialUpdateInput,
    }),
    bearer: t.field({
      description: "Changes for a BEARER credential (only for that kind).",
      type: BearerCredentialUpdateInput,
    }),
    oauth2: t.field({
      description: "Changes for an OAUTH2 credential (only for that kind).",
      type: OAuth2CredentialUpdateInput,
    }),
    clientCredentials: t.field({
      description: "Changes for a CLIENT_CREDENTIALS credential (only for that kind).",
      type: ClientCredentialsCredentialUpdateInput,
    }),
  }),
});

builder.mutationField("updateCredential", (t) =>
  t.field({
    description:
      "Changes a credential's name, description, owner fields or kind settings; omitted fields stay. Secrets change through rotateCredential, except where a secret's destination changes. Returns ValidationError or NotFoundError.",
    type: CredentialSuccess("UpdateCredentialSuccess"),
    authScopes: { scope: "credentials:write" },
    errors: {
      types: commonErrors,
      union: { description: "The updated credential, or ValidationError or NotFoundError." },
    },
    args: {
      input: t.arg({
        description: "The credential's id and the fields to change.",
        type: UpdateCredentialInput,
        required: true,
      }),
    },
    resolve: async (_root, { input }, context) => {
      const id = credentialRawId(input.id, ["id"]);
      const credential = await updateCredential(serviceDeps(context), callerOf(context), id, input);
      return { credential };
    },
  }),
);

const DeleteCredentialInput = builder.inputType("DeleteCredentialInput", {
  description: "Which credential to delete, and whether to detach connectors that use it.",
  fields: (t) => ({
    id: t.id({ description: "The credential's global id.", required: true }),
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
    description: "The credential is deleted (its secrets with it); an event DELETED was published.",
    authScopes: credentialsWriteOrConnect,
    fields: (t) => ({
      deletedCredentialId: t.exposeID("deletedCredentialId", {
        description: "The id the credential had; remove it from client caches.",
      }),
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
    description:
      "Deletes a credential and its secrets, revoking OAuth tokens at the provider when it can. If connectors use it, returns CredentialInUseError unless `force: true` (then they become NEEDS_CREDENTIAL). Returns NotFoundError for an unknown id. A connect session cannot force.",
    type: DeleteCredentialSuccess,
    authScopes: credentialsWriteOrConnect,
    errors: {
      types: [...commonErrors, CredentialInUseError],
      union: {
        description: "The deleted id, or CredentialInUseError, NotFoundError or ValidationError.",
      },
    },
    args: {
      input: t.arg({
        description: "Which credential, and whether to detach its connectors.",
        type: DeleteCredentialInput,
        required: true,
      }),
    },
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

const AcquireCredentialHeadersInput = builder.inputType("AcquireCredentialHeadersInput", {
  description: "Which credential to use, and how long the material must stay valid.",
  fields: (t) => ({
    credentialId: t.id({ description: "The credential's global id.", required: true }),
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
      headers: t.field({
        description: "Headers to add to the request (e.g. Authorization: Bearer …).",
        type: [NameValueRef],
        resolve: (result) => result.headers,
      }),
      queryParameters: t.field({
        description: "Query-string parameters to add (QUERY placement).",
        type: [NameValueRef],
        resolve: (result) => result.queryParameters,
      }),
      pathParameters: t.field({
        type: [NameValueRef],
        description: "Values to substitute into the request path (PATH placement).",
        resolve: (result) => result.pathParameters,
      }),
      expiresAt: t.field({
        description:
          "When this material stops working; null when it does not expire or the expiry is unknown. Acquire again before then; do not cache it beyond.",
        type: "DateTime",
        nullable: true,
        resolve: (result) => result.expiresAt,
      }),
    }),
  });

builder.mutationField("acquireCredentialHeaders", (t) =>
  t.field({
    description:
      "Returns ready-to-send auth material (headers, query or path parameters) for a credential, refreshing its token first when it would expire within `minValiditySeconds`. Use is recorded in lastUsedAt and the audit log (at most once a minute per credential). The result is secret: use it, never log or store it. Returns CredentialNotUsableError (not yet authorized, INVALID, or no token valid for long enough could be obtained; see its status and reason), NotFoundError or ValidationError.",
    type: AcquireCredentialHeadersSuccess,
    authScopes: { scope: "credentials:use" },
    errors: {
      types: [...commonErrors, CredentialNotUsableError],
      union: {
        description:
          "The auth material, or CredentialNotUsableError, NotFoundError or ValidationError.",
      },
    },
    args: {
      input: t.arg({
        description: "Which credential, and the minimum remaining validity.",
        type: AcquireCredentialHeadersInput,
        required: true,
      }),
    },
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
  description: "How much to re-encrypt in one call.",
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
    description: "One batch was re-encrypted; call again while `remaining` is above 0.",
    authScopes: { scope: "admin" },
    fields: (t) => ({
      rewrapped: t.exposeInt("rewrapped", { description: "Secrets re-encrypted by this call." }),
      remaining: t.exposeInt("remaining", { description: "Secrets still under another key." }),
      activeKeyId: t.exposeString("activeKeyId", {
        description: "The id of the encryption key now used for new and rewrapped secrets.",
      }),
    }),
  });

builder.mutationField("rewrapSecrets", (t) =>
  t.field({
    type: RewrapSecretsSuccess,
    ...workspaceWide("admin"),
    description:
      "Re-encrypts your workspace's secrets under the active encryption key, one batch per call (after the key ring gains a new active key). Call until `remaining` is 0; safe to repeat and to run while serving.",
    errors: {
      types: commonErrors,
      union: { description: "The batch's counts, or ValidationError." },
    },
    args: {
      input: t.arg({ description: "The batch size.", type: RewrapSecretsInput, required: true }),
    },
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
