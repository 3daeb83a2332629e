import { builder } from "../../builder.js";
import { registerNodeLoader } from "../common/nodes.js";
import { WorkspaceRef } from "../workspaces/workspaces.types.js";

export const ApiKeyRef = builder.prismaNode("ApiKey", {
  id: { field: "id" },
  // Keys are administered, so every field of one needs `admin`.
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

registerNodeLoader("ApiKey", (id, { prisma, caller }) =>
  caller
    ? prisma.apiKey.findFirst({ where: { id, workspaceId: caller.workspaceId } })
    : Promise.resolve(null),
);

builder.prismaObjectField(WorkspaceRef, "apiKeys", (t) =>
  t.relatedConnection("apiKeys", {
    authScopes: { scope: "admin" },
    cursor: "id",
    query: { orderBy: { id: "asc" } },
  }),
);
