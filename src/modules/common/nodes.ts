// `node(id)`: every node type registers a workspace-scoped loader here, so an id from another
// workspace, a malformed id and an id that never existed all answer null.
import { brandWithType } from "@pothos/core";
import { builder } from "../../builder.js";
import type { Context } from "../../context.js";
import { tryDecodeId } from "./ids.js";

type NodeLoader = (rawId: string, context: Context) => Promise<object | null>;
const loaders = new Map<string, NodeLoader>();

export function registerNodeLoader(typename: string, loader: NodeLoader) {
  loaders.set(typename, loader);
}

builder.queryField("node", (t) =>
  t.field({
    type: builder.nodeInterfaceRef(),
    nullable: true,
    description: "Any object by its global id; null when it does not exist in your workspace.",
    authScopes: { authenticated: true },
    args: { id: t.arg.id({ required: true }) },
    resolve: async (_root, { id }, context) => {
      const decoded = tryDecodeId(String(id));
      const loader = decoded && loaders.get(decoded.typename);
      if (!decoded || !loader) return null;
      const node = await loader(decoded.id, context);
      if (node) brandWithType(node, decoded.typename as never);
      return node as never;
    },
  }),
);
