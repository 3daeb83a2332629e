import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { tryDecodeId } from "../common/ids.js";
import { credentialTypeNames } from "../credentials/credentials.types.js";
import { connectorScope } from "./connectors.service.js";
import {
  ConnectorConnectionRef,
  ConnectorRef,
  ConnectorStatusEnum,
  connectorsRead,
} from "./connectors.types.js";

const ConnectorFilter = builder.inputType("ConnectorFilter", {
  description: "Narrows a connector list; all given conditions must hold.",
  fields: (t) => ({
    environmentId: t.id({
      description: "Only this environment (a global id); an unknown id matches nothing.",
    }),
    credentialId: t.id({
      description: "Only the connectors using this credential; an unknown id matches nothing.",
    }),
    status: t.field({
      description: "Only this status (e.g. NEEDS_CREDENTIAL).",
      type: ConnectorStatusEnum,
    }),
    search: t.string({ description: "Matches name or appKey, case-insensitively." }),
  }),
});

builder.queryField("connector", (t) =>
  t.prismaField({
    type: ConnectorRef,
    nullable: true,
    authScopes: connectorsRead,
    description: "A connector by id; null when it does not exist in your workspace.",
    args: { id: t.arg.id({ required: true, description: "The connector's global id." }) },
    resolve: (query, _root, { id }, context) => {
      const decoded = tryDecodeId(String(id));
      if (decoded?.typename !== "Connector") return null;
      return context.prisma.connector.findFirst({
        ...query,
        where: { id: decoded.id, ...connectorScope(callerOf(context)) },
      });
    },
  }),
);

builder.queryField("connectors", (t) =>
  t.prismaConnection(
    {
      type: ConnectorRef,
      cursor: "id",
      authScopes: connectorsRead,
      description: "Connectors of your workspace, oldest first.",
      args: {
        filter: t.arg({
          type: ConnectorFilter,
          description: "Only connectors matching all given conditions; omit for all.",
        }),
      },
      maxSize: 100,
      defaultSize: 20,
      resolve: (query, _root, { filter }, context) => {
        const where: Prisma.ConnectorWhereInput = { ...connectorScope(callerOf(context)) };
        const and: Prisma.ConnectorWhereInput[] = [];
        if (filter?.status) where.status = filter.status;
        // An unknown or malformed id matches nothing, like a foreign one.
        if (filter?.environmentId) {
          const decoded = tryDecodeId(String(filter.environmentId));
          and.push({ environmentId: decoded?.typename === "Environment" ? decoded.id : "" });
        }
        if (filter?.credentialId) {
          const decoded = tryDecodeId(String(filter.credentialId));
          const valid = decoded && credentialTypeNames.includes(decoded.typename);
          and.push({ credentialId: valid ? decoded.id : "" });
        }
        if (filter?.search) {
          const search = filter.search.slice(0, 200);
          and.push({
            OR: [
              { name: { contains: search, mode: "insensitive" } },
              { appKey: { contains: search, mode: "insensitive" } },
            ],
          });
        }
        if (and.length > 0) where.AND = and;
        return context.prisma.connector.findMany({ ...query, where, orderBy: { id: "asc" } });
      },
    },
    ConnectorConnectionRef,
  ),
);
