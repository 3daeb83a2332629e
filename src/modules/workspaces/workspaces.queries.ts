import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { ViewerRef } from "./workspaces.types.js";

builder.queryField("viewer", (t) =>
  t.field({
    type: ViewerRef,
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
