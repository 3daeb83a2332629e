import { builder } from "../../builder.js";
import { type Context, callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { CredentialProviderError } from "../credentials/credentials.errors.js";
import { credentialScope } from "../credentials/credentials.service.js";
import {
  CredentialUnion,
  credentialGlobalId,
  credentialRawId,
  credentialsWriteOrConnect,
  serviceDeps,
} from "../credentials/credentials.types.js";
import { completeAuthorization, startAuthorization } from "./authorization.service.js";

const AuthorizeCredentialSuccess = builder
  .objectRef<{ authorizationUrl: string; state: string; expiresAt: Date }>(
    "AuthorizeCredentialSuccess",
  )
  .implement({
    description:
      "The authorization has started: open authorizationUrl in a popup or tab; the provider redirects to keyport's callback, which completes it. Watch the credential (credentialEvents) for AUTHORIZED or AUTHORIZATION_FAILED.",
    authScopes: credentialsWriteOrConnect,
    fields: (t) => ({
      authorizationUrl: t.exposeString("authorizationUrl", {
        description:
          "The provider's authorization page with client id, scopes, state and PKCE challenge; open it in the user's browser.",
      }),
      state: t.exposeString("state", {
        description:
          "The flow's opaque state (single use); the callback matches on it. Needed only for completeAuthorization.",
      }),
      expiresAt: t.expose("expiresAt", {
        type: "DateTime",
        description: "When the flow expires; the user must finish consenting before then.",
      }),
    }),
  });

const openerOriginDescription =
  "Origin of the window that opens the popup (one of ALLOWED_ORIGINS). The callback page posts its outcome to this origin only; without one it posts nothing.";

const AuthorizeCredentialInput = builder.inputType("AuthorizeCredentialInput", {
  description: "Which OAUTH2 credential to authorize, and how.",
  fields: (t) => ({
    id: t.id({ description: "The OAUTH2 credential's global id.", required: true }),
    redirectUri: t.string({ description: "Default: PUBLIC_URL/oauth/callback." }),
    scopes: t.stringList({ description: "Default: the credential's scopes." }),
    openerOrigin: t.string({ description: openerOriginDescription }),
  }),
});

builder.mutationField("authorizeCredential", (t) =>
  t.field({
    description:
      "Starts the OAuth 2.0 authorization-code flow (with PKCE) for an OAUTH2 credential and returns the URL to open. On success the callback stores the tokens and the credential becomes ACTIVE (or DEGRADED with missing scopes). Returns ValidationError (not an OAUTH2 credential, redirect URI or origin not allowed), NotFoundError, or CredentialProviderError (the issuer's metadata could not be read).",
    type: AuthorizeCredentialSuccess,
    authScopes: credentialsWriteOrConnect,
    errors: {
      types: [...commonErrors, CredentialProviderError],
      union: {
        name: "AuthorizeCredentialPayload",
        description:
          "The URL to open, or ValidationError, NotFoundError or CredentialProviderError.",
      },
    },
    args: {
      input: t.arg({
        type: AuthorizeCredentialInput,
        required: true,
        description: "The credential, and optionally redirect URI, scopes and opener origin.",
      }),
    },
    resolve: (_root, { input }, context) =>
      startAuthorization(
        serviceDeps(context),
        callerOf(context),
        credentialRawId(input.id, ["id"]),
        input,
        false,
      ),
  }),
);

const ReauthorizeCredentialInput = builder.inputType("ReauthorizeCredentialInput", {
  description: "Which OAUTH2 credential to authorize again, with which extra scopes.",
  fields: (t) => ({
    id: t.id({ description: "The OAUTH2 credential's global id.", required: true }),
    addScopes: t.stringList({ description: "Scopes to request on top of the credential's own." }),
    redirectUri: t.string({
      description:
        "Where the provider redirects; default PUBLIC_URL/oauth/callback. Must be an allowed redirect URI.",
    }),
    openerOrigin: t.string({ description: openerOriginDescription }),
  }),
});

builder.mutationField("reauthorizeCredential", (t) =>
  t.field({
    type: AuthorizeCredentialSuccess,
    authScopes: credentialsWriteOrConnect,
    description:
      "Runs the authorization again with the credential's scopes plus addScopes. Tokens for another account are refused (ACCOUNT_MISMATCH).",
    errors: {
      types: [...commonErrors, CredentialProviderError],
      union: {
        name: "ReauthorizeCredentialPayload",
        description:
          "The URL to open, or ValidationError, NotFoundError or CredentialProviderError.",
      },
    },
    args: {
      input: t.arg({
        type: ReauthorizeCredentialInput,
        required: true,
        description: "The credential and the scopes to add.",
      }),
    },
    resolve: (_root, { input }, context) =>
      startAuthorization(
        serviceDeps(context),
        callerOf(context),
        credentialRawId(input.id, ["id"]),
        input,
        true,
      ),
  }),
);

const CompleteAuthorizationInput = builder.inputType("CompleteAuthorizationInput", {
  description: "The parameters the provider appended to the redirect URI.",
  fields: (t) => ({
    state: t.string({ description: "The `state` parameter of the redirect.", required: true }),
    code: t.string({
      description: "The `code` parameter; absent when the provider reports an error.",
    }),
    iss: t.string({
      description:
        "The `iss` parameter (RFC 9207), when the provider sends one; checked against the credential's issuer.",
    }),
    error: t.string({
      description: "The `error` parameter (e.g. `access_denied`), when the provider reports one.",
    }),
  }),
});

const CompleteAuthorizationSuccess = builder
  .objectRef<{ credentialId: string; context: Context }>("CompleteAuthorizationSuccess")
  .implement({
    description: "The authorization completed; the credential holds its new tokens.",
    // The credential inside needs credentials:read on top (its own type rule).
    authScopes: credentialsWriteOrConnect,
    fields: (t) => ({
      credentialId: t.id({
        description:
          "The credential's id. A caller without credentials:read selects this instead of `credential`.",
        resolve: ({ credentialId }) => credentialGlobalId({ id: credentialId, kind: "OAUTH2" }),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now.",
        resolve: ({ credentialId, context }) =>
          context.prisma.credential.findFirstOrThrow({
            where: { id: credentialId, ...credentialScope(callerOf(context)) },
          }) as never,
      }),
    }),
  });

builder.mutationField("completeAuthorization", (t) =>
  t.field({
    type: CompleteAuthorizationSuccess,
    authScopes: credentialsWriteOrConnect,
    description:
      "Completes an authorization, as GET /oauth/callback does, for apps that receive the redirect themselves (a custom redirectUri): exchanges the code for tokens and stores them. Returns CredentialProviderError (the user denied consent: AUTHORIZATION_DENIED; a bad, expired or replayed state or a refused exchange: AUTHORIZATION_FAILED; another account: ACCOUNT_MISMATCH), ValidationError or NotFoundError.",
    errors: {
      types: [...commonErrors, CredentialProviderError],
      union: {
        description:
          "The authorized credential, or CredentialProviderError, ValidationError or NotFoundError.",
      },
    },
    args: {
      input: t.arg({
        type: CompleteAuthorizationInput,
        required: true,
        description: "The redirect's query parameters, as received.",
      }),
    },
    resolve: async (_root, { input }, context) => {
      const caller = callerOf(context);
      const { credentialId } = await completeAuthorization(serviceDeps(context), input, {
        workspaceId: caller.workspaceId,
        environmentId: caller.environmentId,
        connect: caller.connect,
        actor: caller.actor,
      });
      return { credentialId, context };
    },
  }),
);
