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
  description: "Narrows a credential list; all given conditions must hold.",
  fields: (t) => ({
    kind: t.field({ description: "Only this kind.", type: CredentialKindEnum }),
    status: t.field({
      description: "Only this status (e.g. INVALID to find credentials that need attention).",
      type: CredentialStatusEnum,
    }),
    environmentId: t.id({
      description: "Only this environment (a global id); an unknown id matches nothing.",
    }),
    externalUserId: t.string({
      description: "Only the credentials of this end user (exact match).",
    }),
    providerKey: t.string({ description: "Only this provider (exact match)." }),
    search: t.string({ description: "Matches name or description, case-insensitively." }),
  }),
});

builder.queryField("credential", (t) =>
  t.field({
    type: CredentialUnion,
    nullable: true,
    authScopes: credentialsRead,
    description: "A credential by id; null when it does not exist in your workspace.",
    args: { id: t.arg.id({ required: true, description: "The credential's global id." }) },
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
      args: {
        filter: t.arg({
          type: CredentialFilter,
          description: "Only credentials matching all given conditions; omit for all.",
        }),
      },
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
    {
      name: "CredentialConnection",
      description: "One page of credentials.",
      authScopes: credentialsRead,
    },
    {
      name: "CredentialEdge",
      description: "One credential in a page.",
      authScopes: credentialsRead,
    },
  ),
);
