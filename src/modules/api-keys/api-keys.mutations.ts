import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { rawIdOf } from "../common/ids.js";
import { createApiKey, revokeApiKey } from "./api-keys.service.js";
import { ApiKeyRef } from "./api-keys.types.js";

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  description: "The new key's name, scopes and optional environment.",
  fields: (t) => ({
    name: t.string({ description: "Display name (e.g. `billing-service`).", required: true }),
    scopes: t.stringList({
      required: true,
      description:
        "Any of credentials:read, credentials:write, credentials:use, connectors:read, connectors:write, admin, platform — at most the scopes you hold.",
    }),
    environmentId: t.id({ description: "Limit the key to one environment." }),
  }),
});

const CreateApiKeySuccess = builder
  .objectRef<{ apiKey: { id: string }; key: string }>("CreateApiKeySuccess")
  .implement({
    description: "The key exists; `key` is its only showing.",
    authScopes: { scope: "admin" },
    fields: (t) => ({
      apiKey: t.field({
        description: "The key's record (without the key).",
        type: ApiKeyRef,
        resolve: (result) => result.apiKey as never,
      }),
      key: t.string({
        description: "The API key. Shown once; store it now.",
        resolve: (result) => result.key,
      }),
    }),
  });

builder.mutationField("createApiKey", (t) =>
  t.field({
    description:
      "Creates an API key for a service or person. The key is returned once, in `key`. Scopes may not exceed the caller's own, and a caller limited to one environment can only create keys limited to it. Returns ValidationError (unknown or excessive scopes, bad name) or NotFoundError (environment).",
    type: CreateApiKeySuccess,
    authScopes: { scope: "admin" },
    errors: {
      types: commonErrors,
      union: { description: "The key, or ValidationError or NotFoundError." },
    },
    args: {
      input: t.arg({
        description: "The key's name, scopes and environment.",
        type: CreateApiKeyInput,
        required: true,
      }),
    },
    resolve: (_root, { input }, context) => {
      const caller = callerOf(context);
      const environmentId = input.environmentId
        ? rawIdOf(String(input.environmentId), "Environment", ["environmentId"])
        : null;
      return createApiKey(context.prisma, caller, { ...input, environmentId });
    },
  }),
);

const RevokeApiKeyInput = builder.inputType("RevokeApiKeyInput", {
  description: "Which key to revoke.",
  fields: (t) => ({ id: t.id({ required: true, description: "The key's global id." }) }),
});

const RevokeApiKeySuccess = builder
  .objectRef<{ apiKey: { id: string } }>("RevokeApiKeySuccess")
  .implement({
    description: "The key is revoked; requests with it now fail with UNAUTHENTICATED.",
    authScopes: { scope: "admin" },
    fields: (t) => ({
      apiKey: t.field({
        description: "The revoked key's record; revokedAt is set.",
        type: ApiKeyRef,
        resolve: (result) => result.apiKey as never,
      }),
    }),
  });

builder.mutationField("revokeApiKey", (t) =>
  t.field({
    description:
      "Revokes an API key at once; revoking twice is harmless. Returns NotFoundError for an unknown id (or one the caller may not see).",
    type: RevokeApiKeySuccess,
    authScopes: { scope: "admin" },
    errors: {
      types: commonErrors,
      union: { description: "The revoked key, or NotFoundError or ValidationError." },
    },
    args: {
      input: t.arg({ description: "The key's id.", type: RevokeApiKeyInput, required: true }),
    },
    resolve: async (_root, { input }, context) => {
      const id = rawIdOf(String(input.id), "ApiKey", ["id"]);
      return { apiKey: await revokeApiKey(context.prisma, callerOf(context), id) };
    },
  }),
);
