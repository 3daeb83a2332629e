import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { ViewerRef } from "./workspaces.types.js";

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerRef,
    description:
      "Who is calling: the key's or token's subject, scopes and workspace. A cheap way to check an Authorization header.",
    authScopes: { authenticated: true },
    resolve: (_root, _args, context) => {
      const caller = callerOf(context);
      return {
        subject: caller.subject ?? caller.actor,
        scopes: caller.grantedScopes,
        workspaceId: caller.workspaceId,
      };
    },
  }),
);
