import { builder } from "../../builder.js";
import { type Context, callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { CredentialProviderError } from "../credentials/credentials.errors.js";
import { credentialScope } from "../credentials/credentials.service.js";
import {
  CredentialUnion,
  credentialGlobalId,
  credentialRawId,
  serviceDeps,
} from "../credentials/credentials.types.js";
import { completeAuthorization, startAuthorization } from "./authorization.service.js";

const AuthorizeCredentialSuccess = builder
  .objectRef<{ authorizationUrl: string; state: string; expiresAt: Date }>(
    "AuthorizeCredentialSuccess",
  )
  .implement({
    description:
      "Open authorizationUrl (e.g. in a popup); the provider redirects back to the callback.",
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      authorizationUrl: t.exposeString("authorizationUrl"),
      state: t.exposeString("state"),
      expiresAt: t.expose("expiresAt", { type: "DateTime" }),
    }),
  });

const openerOriginDescription =
  "Origin of the window that opens the popup (one of ALLOWED_ORIGINS). The callback page posts its outcome to this origin only; without one it posts nothing.";

const AuthorizeCredentialInput = builder.inputType("AuthorizeCredentialInput", {
  fields: (t) => ({
    id: t.id({ required: true }),
    redirectUri: t.string({ description: "Default: PUBLIC_URL/oauth/callback." }),
    scopes: t.stringList({ description: "Default: the credential's scopes." }),
    openerOrigin: t.string({ description: openerOriginDescription }),
  }),
});

builder.mutationField("authorizeCredential", (t) =>
  t.field({
    type: AuthorizeCredentialSuccess,
    authScopes: { scope: "credentials:write" },
    errors: {
      types: [...commonErrors, CredentialProviderError],
      union: { name: "AuthorizeCredentialPayload" },
    },
    args: { input: t.arg({ type: AuthorizeCredentialInput, required: true }) },
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
  fields: (t) => ({
    id: t.id({ required: true }),
    addScopes: t.stringList({ description: "Scopes to request on top of the credential's own." }),
    redirectUri: t.string(),
    openerOrigin: t.string({ description: openerOriginDescription }),
  }),
});

builder.mutationField("reauthorizeCredential", (t) =>
  t.field({
    type: AuthorizeCredentialSuccess,
    authScopes: { scope: "credentials:write" },
    description:
      "Runs the authorization again with the credential's scopes plus addScopes. Tokens for another account are refused (ACCOUNT_MISMATCH).",
    errors: {
      types: [...commonErrors, CredentialProviderError],
      union: { name: "ReauthorizeCredentialPayload" },
    },
    args: { input: t.arg({ type: ReauthorizeCredentialInput, required: true }) },
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
    state: t.string({ required: true }),
    code: t.string(),
    iss: t.string(),
    error: t.string(),
  }),
});

const CompleteAuthorizationSuccess = builder
  .objectRef<{ credentialId: string; context: Context }>("CompleteAuthorizationSuccess")
  .implement({
    // The credential inside needs credentials:read on top (its own type rule).
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      credentialId: t.id({
        description:
          "The credential's id. A caller without credentials:read selects this instead of `credential`.",
        resolve: ({ credentialId }) => credentialGlobalId({ id: credentialId, kind: "OAUTH2" }),
      }),
      credential: t.field({
        type: CredentialUnion,
        description: "The credential as it is now; needs credentials:read.",
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
    authScopes: { scope: "credentials:write" },
    description: "Completes an authorization, as GET /oauth/callback does.",
    errors: { types: [...commonErrors, CredentialProviderError] },
    args: { input: t.arg({ type: CompleteAuthorizationInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const caller = callerOf(context);
      const { credentialId } = await completeAuthorization(serviceDeps(context), input, {
        workspaceId: caller.workspaceId,
        environmentId: caller.environmentId,
        actor: caller.actor,
      });
      return { credentialId, context };
    },
  }),
);
