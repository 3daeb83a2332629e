import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { registerNodeLoader } from "../common/nodes.js";
import { WorkspaceRef } from "../workspaces/workspaces.types.js";
import { apiKeyScope } from "./api-keys.service.js";

export const ApiKeyRef = builder.prismaNode("ApiKey", {
  id: { field: "id" },
  // Keys are administered, so every field of one needs `admin`. A key limited to an environment
  // sees only the keys limited to that environment (the loaders and the list filter the others).
  authScopes: { scope: "admin" },
  description: "An API key. The key itself is shown once, at creation; only its prefix is kept.",
  fields: (t) => ({
    name: t.exposeString("name", { description: "Display name, to tell keys apart." }),
    prefix: t.exposeString("prefix", {
      description: "The key's first characters, to recognise it in logs and configuration.",
    }),
    scopes: t.exposeStringList("scopes", {
      description: "What the key may do (e.g. `credentials:read`).",
    }),
    environment: t.relation("environment", {
      description: "The one environment the key is limited to; null for a workspace-wide key.",
      nullable: true,
    }),
    createdAt: t.expose("createdAt", {
      description: "When the key was created (ISO 8601, UTC).",
      type: "DateTime",
    }),
    lastUsedAt: t.expose("lastUsedAt", {
      description: "When the key last authenticated a request; null if never.",
      type: "DateTime",
      nullable: true,
    }),
    revokedAt: t.expose("revokedAt", {
      description: "When it was revoked; null while it works.",
      type: "DateTime",
      nullable: true,
    }),
  }),
});

registerNodeLoader(
  "ApiKey",
  (id, { prisma, caller }) =>
    caller
      ? prisma.apiKey.findFirst({ where: { id, ...apiKeyScope(caller) } })
      : Promise.resolve(null),
  "admin",
);

builder.prismaObjectField(WorkspaceRef, "apiKeys", (t) =>
  t.relatedConnection(
    "apiKeys",
    {
      description:
        "The workspace's API keys, revoked ones included, oldest first. A key limited to one environment sees only the keys limited to that environment.",
      authScopes: { scope: "admin" },
      cursor: "id",
      query: (_args, context) => ({
        where: apiKeyScope(callerOf(context)),
        orderBy: { id: "asc" },
      }),
    },
    { description: "One page of API keys.", authScopes: { scope: "admin" } },
    { description: "One API key in a page.", authScopes: { scope: "admin" } },
  ),
);
