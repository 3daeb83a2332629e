// `node(id)`: every node type registers a workspace-scoped loader here, so an id from another
// workspace, a malformed id and an id that never existed all answer null.
import { brandWithType } from "@pothos/core";
import { builder, missingScope } from "../../builder.js";
import type { Context } from "../../context.js";
import type { Scope } from "../../lib/auth.js";
import { tryDecodeId } from "./ids.js";

type NodeLoader = (rawId: string, context: Context) => Promise<object | null>;
const loaders = new Map<string, { load: NodeLoader; scope: Scope | readonly Scope[] | null }>();

/**
 * `scope`: what the type's own root field requires. A caller without it is refused before
 * anything is loaded, so `node` answers exactly as that root field does (FORBIDDEN whether or
 * not the id exists). The type's own rule (`authScopes` on the type) applies on top.
 */
export function registerNodeLoader(
  typename: string,
  loader: NodeLoader,
  scope: Scope | readonly Scope[] | null,
) {
  loaders.set(typename, { load: loader, scope });
}

builder.queryField("node", (t) =>
  t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description:
      "Any object by its global id; null when it does not exist in your workspace (or is malformed), so a foreign id cannot be told from a missing one. Fails with FORBIDDEN when the caller lacks the scope the object's type needs.",
    authScopes: { authenticated: true },
    args: {
      id: t.arg.id({ required: true, description: "A global id, as returned by any `id` field." }),
    },
    resolve: async (_root, { id }, context) => {
      const decoded = tryDecodeId(String(id));
      const loader = decoded && loaders.get(decoded.typename);
      if (!decoded || !loader) return null;
      if (loader.scope) {
        // One scope, or any one of a list.
        const accepted = typeof loader.scope === "string" ? [loader.scope] : loader.scope;
        if (!accepted.some((scope) => context.caller?.scopes.has(scope)))
          throw missingScope(accepted);
      }
      const node = await loader.load(decoded.id, context);
      if (node) brandWithType(node, decoded.typename as never);
      return node as never;
    },
  }),
);
