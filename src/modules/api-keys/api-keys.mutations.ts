import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { rawIdOf } from "../common/ids.js";
import { createApiKey, revokeApiKey } from "./api-keys.service.js";
import { ApiKeyRef } from "./api-keys.types.js";

const CreateApiKeyInput = builder.inputType("CreateApiKeyInput", {
  fields: (t) => ({
    name: t.string({ required: true }),
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
    authScopes: { scope: "admin" },
    fields: (t) => ({
      apiKey: t.field({ type: ApiKeyRef, resolve: (result) => result.apiKey as never }),
      key: t.string({
        description: "The API key. Shown once; store it now.",
        resolve: (result) => result.key,
      }),
    }),
  });

builder.mutationField("createApiKey", (t) =>
  t.field({
    type: CreateApiKeySuccess,
    authScopes: { scope: "admin" },
    errors: { types: commonErrors },
    args: { input: t.arg({ type: CreateApiKeyInput, required: true }) },
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
  fields: (t) => ({ id: t.id({ required: true }) }),
});

const RevokeApiKeySuccess = builder
  .objectRef<{ apiKey: { id: string } }>("RevokeApiKeySuccess")
  .implement({
    authScopes: { scope: "admin" },
    fields: (t) => ({
      apiKey: t.field({ type: ApiKeyRef, resolve: (result) => result.apiKey as never }),
    }),
  });

builder.mutationField("revokeApiKey", (t) =>
  t.field({
    type: RevokeApiKeySuccess,
    authScopes: { scope: "admin" },
    errors: { types: commonErrors },
    args: { input: t.arg({ type: RevokeApiKeyInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const id = rawIdOf(String(input.id), "ApiKey", ["id"]);
      return { apiKey: await revokeApiKey(context.prisma, callerOf(context), id) };
    },
  }),
);
