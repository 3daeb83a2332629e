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
    name: t.exposeString("name"),
    prefix: t.exposeString("prefix", { description: "The first characters of the key." }),
    scopes: t.exposeStringList("scopes"),
    environment: t.relation("environment", { nullable: true }),
    createdAt: t.expose("createdAt", { type: "DateTime" }),
    lastUsedAt: t.expose("lastUsedAt", { type: "DateTime", nullable: true }),
    revokedAt: t.expose("revokedAt", { type: "DateTime", nullable: true }),
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
      authScopes: { scope: "admin" },
      cursor: "id",
      query: (_args, context) => ({
        where: apiKeyScope(callerOf(context)),
        orderBy: { id: "asc" },
      }),
    },
    { authScopes: { scope: "admin" } },
    { authScopes: { scope: "admin" } },
  ),
);
