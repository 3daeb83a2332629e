// GraphQL view of the provider catalog: what a credential form needs to know about a provider.
import { builder } from "../../builder.js";
import {
  authMethodOf,
  formFieldsOf,
  type ProviderAuthMethod,
  type ProviderEntry,
  type ProviderField,
} from "../catalog/catalog.js";
import { ProviderRef } from "../catalog/catalog.refs.js";
import { CredentialKindEnum } from "../credentials/credentials.types.js";

/**
 * Anyone who may read or create credentials may read the catalog (it holds no secrets), and so
 * may a connect session: a credential screen builds its create forms from it.
 */
export const catalogRead = {
  anyScope: ["credentials:read", "credentials:write", "connect"] as const,
};

export const ProviderFieldLocationEnum = builder.enumType("ProviderFieldLocation", {
  description: "Where a form field's value goes in createCredential's input.",
  values: {
    CONNECTION_CONFIG: {
      description: "Into `connectionConfig` (a connection variable such as `subdomain`).",
    },
    CREDENTIAL_INPUT: {
      description:
        "Into the kind's input block under the field's name (`basic`, `bearer`, `oauth2` or `clientCredentials`).",
    },
  } as const,
});

type LocatedField = ProviderField & { location: "CONNECTION_CONFIG" | "CREDENTIAL_INPUT" };

export const ProviderFieldRef = builder.objectRef<LocatedField>("ProviderField").implement({
  description: "One input of a provider's credential form.",
  authScopes: catalogRead,
  fields: (t) => ({
    name: t.exposeString("name", {
      description: "The input field name (in the kind's input block, or in connectionConfig).",
    }),
    label: t.exposeString("label", { description: "A label to show next to the input." }),
    type: t.exposeString("type", {
      description: "The kind of input: text, password, email, url or number.",
    }),
    secret: t.exposeBoolean("secret", {
      description: "The value is a secret: mask it, and never store it in the browser.",
    }),
    pattern: t.exposeString("pattern", {
      nullable: true,
      description: "A regular expression (Unicode) the value must match; checked on create.",
    }),
    required: t.exposeBoolean("required", { description: "Whether the value must be given." }),
    example: t.exposeString("example", {
      nullable: true,
      description: "An example value, for placeholders.",
    }),
    description: t.exposeString("description", {
      nullable: true,
      description: "Help text: where to find the value.",
    }),
    location: t.field({
      type: ProviderFieldLocationEnum,
      description: "Where the value goes in createCredential's input.",
      resolve: (field) => field.location,
    }),
  }),
});

const ProviderScopesRef = builder.objectRef<ProviderEntry["scopes"]>("ProviderScopes").implement({
  description: "How a provider's OAuth scopes are requested and spelled.",
  authScopes: catalogRead,
  fields: (t) => ({
    default: t.exposeStringList("default", {
      description: "Scopes requested when the credential names none.",
    }),
    required: t.exposeStringList("required", {
      description: "Scopes always requested; a grant without them leaves the credential DEGRADED.",
    }),
    separator: t.exposeString("separator", {
      description: "What separates scopes in the authorization request (a space or a comma).",
    }),
    aliases: t.field({
      type: "JSON",
      description:
        "Other spellings the provider may answer with, each mapped to the catalog's spelling.",
      resolve: (scopes) => scopes.aliases,
    }),
  }),
});

const placementOf = (method: ProviderAuthMethod) =>
  method.kind === "BEARER" ? method.placement : null;

const ProviderPlacementRef = builder
  .objectRef<NonNullable<ReturnType<typeof placementOf>>>("ProviderTokenPlacement")
  .implement({
    description: "How a provider expects a static token on requests.",
    authScopes: catalogRead,
    fields: (t) => ({
      placement: t.exposeString("in", {
        description: "HEADER, QUERY or PATH (PATH: substituted into the URL path).",
      }),
      headerName: t.exposeString("headerName", { description: "The header for HEADER placement." }),
      scheme: t.exposeString("scheme", {
        description: 'Written before the token in the header; "" for none.',
      }),
      queryParameter: t.exposeString("queryParameter", {
        nullable: true,
        description: "The parameter for QUERY placement.",
      }),
    }),
  });

const oauthValue = <Key extends string>(method: ProviderAuthMethod, key: Key): unknown =>
  (method as Record<string, unknown>)[key] ?? null;

const ProviderAuthMethodRef = builder
  .objectRef<{ entry: ProviderEntry; method: ProviderAuthMethod }>("ProviderAuthMethod")
  .implement({
    description: "One way to authenticate with a provider, and what keyport fills in for it.",
    authScopes: catalogRead,
    fields: (t) => ({
      kind: t.field({
        type: CredentialKindEnum,
        description: "The credential kind to create.",
        resolve: ({ method }) => method.kind,
      }),
      fields: t.field({
        type: [ProviderFieldRef],
        description: "The form: connection variables first, then the kind's own inputs.",
        resolve: ({ entry, method }) => formOf(entry, method),
      }),
      authorizationUrl: t.string({
        nullable: true,
        description:
          "The authorization endpoint template (OAUTH2); {variables} come from connectionConfig.",
        resolve: ({ method }) => oauthValue(method, "authorizationUrl") as string | null,
      }),
      tokenUrl: t.string({
        nullable: true,
        description: "The token endpoint template (OAuth kinds).",
        resolve: ({ method }) => oauthValue(method, "tokenUrl") as string | null,
      }),
      revocationUrl: t.string({
        nullable: true,
        description: "The revocation endpoint template, if the provider has one.",
        resolve: ({ method }) => oauthValue(method, "revocationUrl") as string | null,
      }),
      usePkce: t.boolean({
        nullable: true,
        description: "Whether PKCE (S256) is used (OAUTH2).",
        resolve: ({ method }) => (method.kind === "OAUTH2" ? method.pkce : null),
      }),
      extraAuthorizationParams: t.field({
        type: "JSON",
        nullable: true,
        description: "Parameters added to the authorization request (OAUTH2).",
        resolve: ({ method }) => (method.kind === "OAUTH2" ? method.authorizationParams : null),
      }),
      refreshTokensSingleUse: t.boolean({
        description: "Each refresh returns a new refresh token and the old one stops working.",
        resolve: ({ method }) => method.kind === "OAUTH2" && method.singleUseRefreshTokens,
      }),
      tokensExpire: t.boolean({
        description: "Whether access tokens expire (false: no refresh token is issued).",
        resolve: ({ method }) => method.kind !== "OAUTH2" || method.tokensExpire,
      }),
      placement: t.field({
        type: ProviderPlacementRef,
        nullable: true,
        description: "How a static token is placed on requests (BEARER).",
        resolve: ({ method }) => placementOf(method),
      }),
    }),
  });

function formOf(entry: ProviderEntry, method: ProviderAuthMethod): LocatedField[] {
  return [
    ...entry.connectionVariables.map((field) => ({
      ...field,
      location: "CONNECTION_CONFIG" as const,
    })),
    ...formFieldsOf(method).map((field) => ({ ...field, location: "CREDENTIAL_INPUT" as const })),
  ];
}

export const ProviderTypeRef = ProviderRef.implement({
  description:
    "A provider from the catalog: how to connect to it, and the form a credential for it needs.",
  authScopes: catalogRead,
  fields: (t) => ({
    key: t.exposeString("key", { description: "The providerKey to give createCredential." }),
    name: t.exposeString("name", { description: "The provider's display name." }),
    description: t.exposeString("description", {
      nullable: true,
      description: "What a credential for this provider gives access to.",
    }),
    docsUrl: t.exposeString("docsUrl", {
      nullable: true,
      description: "The provider's documentation on obtaining credentials.",
    }),
    categories: t.exposeStringList("categories", {
      description: "Categories for grouping in a picker (crm, messaging, ...).",
    }),
    authKinds: t.field({
      type: [CredentialKindEnum],
      description: "The credential kinds the provider takes, the preferred one first.",
      resolve: (entry) => entry.auth.map((method) => method.kind),
    }),
    scopes: t.field({
      type: ProviderScopesRef,
      description: "Default and required scopes, their separator and alternative spellings.",
      resolve: (entry) => entry.scopes,
    }),
    fields: t.field({
      type: [ProviderFieldRef],
      description:
        "The form for one auth kind (default: the first of authKinds): connection variables, then the kind's inputs.",
      args: {
        authKind: t.arg({
          type: CredentialKindEnum,
          description: "The auth kind whose form to return.",
        }),
      },
      resolve: (entry, { authKind }) => {
        const method = authKind ? authMethodOf(entry, authKind) : entry.auth[0];
        return method ? formOf(entry, method) : [];
      },
    }),
    connectionVariables: t.field({
      type: [ProviderFieldRef],
      description: "Values each connection supplies in connectionConfig (`subdomain`).",
      resolve: (entry) =>
        entry.connectionVariables.map((field) => ({
          ...field,
          location: "CONNECTION_CONFIG" as const,
        })),
    }),
    authMethods: t.field({
      type: [ProviderAuthMethodRef],
      description: "Each auth kind with its form and what keyport fills in.",
      resolve: (entry) => entry.auth.map((method) => ({ entry, method })),
    }),
    verifiable: t.boolean({
      description:
        "Whether static credentials (BASIC, BEARER) can be checked with the provider before they are saved and by testCredential.",
      resolve: (entry) => Boolean(entry.verify),
    }),
  }),
});
