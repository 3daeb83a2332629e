import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { tryDecodeId } from "../common/ids.js";
import { credentialScope } from "./credentials.service.js";
import {
  CredentialBaseRef,
  CredentialKindEnum,
  CredentialStatusEnum,
  CredentialUnion,
  credentialsRead,
  credentialTypeNames,
} from "./credentials.types.js";

const CredentialFilter = builder.inputType("CredentialFilter", {
  fields: (t) => ({
    kind: t.field({ type: CredentialKindEnum }),
    status: t.field({ type: CredentialStatusEnum }),
    environmentId: t.id(),
    externalUserId: t.string(),
    providerKey: t.string(),
    search: t.string({ description: "Matches name or description, case-insensitively." }),
  }),
});

builder.queryField("credential", (t) =>
  t.field({
    type: CredentialUnion,
    nullable: true,
    authScopes: credentialsRead,
    description: "A credential by id; null when it does not exist in your workspace.",
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      const decoded = tryDecodeId(String(id));
      if (!decoded || !credentialTypeNames.includes(decoded.typename)) return null;
      return context.prisma.credential.findFirst({
        where: { id: decoded.id, ...credentialScope(callerOf(context)) },
      });
    },
  }),
);

builder.queryField("credentials", (t) =>
  t.prismaConnection(
    {
      type: CredentialBaseRef,
      cursor: "id",
      authScopes: credentialsRead,
      description: "Credentials of your workspace, oldest first.",
      args: { filter: t.arg({ type: CredentialFilter }) },
      maxSize: 100,
      defaultSize: 20,
      resolve: (query, _root, { filter }, context) => {
        const where: Prisma.CredentialWhereInput = {};
        if (filter?.kind) where.kind = filter.kind;
        if (filter?.status) where.status = filter.status;
        if (filter?.externalUserId) where.externalUserId = filter.externalUserId;
        if (filter?.providerKey) where.providerKey = filter.providerKey;
        if (filter?.environmentId) {
          const decoded = tryDecodeId(String(filter.environmentId));
          // An unknown or malformed environment id matches nothing, like a foreign one.
          where.AND = [{ environmentId: decoded?.typename === "Environment" ? decoded.id : "" }];
        }
        if (filter?.search) {
          const search = filter.search.slice(0, 200);
          where.OR = [
            { name: { contains: search, mode: "insensitive" } },
            { description: { contains: search, mode: "insensitive" } },
          ];
        }
        // The caller's limits stand apart from the filter, so no filter value can widen them.
        return context.prisma.credential.findMany({
          ...query,
          where: { AND: [credentialScope(callerOf(context)), where] },
          orderBy: { id: "asc" },
        });
      },
    },
    { name: "CredentialConnection", authScopes: credentialsRead },
    { name: "CredentialEdge", authScopes: credentialsRead },
  ),
);
