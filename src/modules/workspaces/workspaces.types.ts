import { builder } from "../../builder.js";
import { registerNodeLoader } from "../common/nodes.js";

// Any caller of the workspace reads it; `platform` also reads a workspace it has just created.
export const WorkspaceRef = builder.prismaNode("Workspace", {
  id: { field: "id" },
  description:
    "A tenant: the unit that owns environments, credentials, connectors and API keys. Nothing crosses from one workspace to another.",
  authScopes: (workspace) => ({ $any: { inWorkspace: workspace.id, scope: "platform" } }),
  extensions: {
    scopeNote: "Any caller of this workspace, or a caller holding scope `platform`.",
  },
  fields: (t) => ({
    slug: t.exposeString("slug", {
      description: "Short, URL-safe name, unique across the installation (e.g. `acme`).",
    }),
    name: t.exposeString("name", { description: "Display name." }),
    createdAt: t.expose("createdAt", {
      type: "DateTime",
      description: "When the workspace was created (ISO 8601, UTC).",
    }),
    environments: t.relation("environments", {
      description: "The workspace's environments; for a key limited to one, only that one.",
      query: (_args, context) => ({
        orderBy: { createdAt: "asc" },
        ...(context.caller?.environmentId ? { where: { id: context.caller.environmentId } } : {}),
      }),
    }),
  }),
});

export const EnvironmentRef = builder.prismaNode("Environment", {
  id: { field: "id" },
  description:
    "A separate set of credentials and connectors inside a workspace (e.g. `production`, `staging`). API keys may be limited to one environment.",
  authScopes: (environment) => ({
    $any: { inWorkspace: environment.workspaceId, scope: "platform" },
  }),
  extensions: {
    scopeNote: "Any caller of the environment's workspace, or a caller holding scope `platform`.",
  },
  fields: (t) => ({
    slug: t.exposeString("slug", {
      description: "Short, URL-safe name, unique within its workspace (e.g. `production`).",
    }),
    name: t.exposeString("name", { description: "Display name." }),
    createdAt: t.expose("createdAt", {
      type: "DateTime",
      description: "When the environment was created (ISO 8601, UTC).",
    }),
  }),
});

registerNodeLoader(
  "Workspace",
  (id, { prisma, caller }) =>
    id === caller?.workspaceId
      ? prisma.workspace.findUnique({ where: { id } })
      : Promise.resolve(null),
  null,
);
registerNodeLoader(
  "Environment",
  (id, { prisma, caller }) =>
    caller
      ? prisma.environment.findFirst({ where: { id, workspaceId: caller.workspaceId } })
      : Promise.resolve(null),
  null,
);

export type Viewer = { subject: string | null; scopes: string[]; workspaceId: string };

export const ViewerRef = builder.objectRef<Viewer>("Viewer").implement({
  description:
    "The authenticated caller (an API key or a JWT): who it is, what it may do and where.",
  authScopes: { authenticated: true },
  fields: (t) => ({
    subject: t.exposeString("subject", {
      description:
        "For a JWT, its `sub` claim; for an API key, `apiKey:<key id>`. Audit entries name the caller by it.",
      nullable: true,
    }),
    scopes: t.exposeStringList("scopes", {
      description:
        "The scopes granted to this key or token (`admin` implies every scope but `platform`).",
    }),
    workspace: t.prismaField({
      description: "The caller's workspace.",
      type: "Workspace",
      resolve: (query, viewer, _args, { prisma }) =>
        prisma.workspace.findUniqueOrThrow({ ...query, where: { id: viewer.workspaceId } }),
    }),
  }),
});
