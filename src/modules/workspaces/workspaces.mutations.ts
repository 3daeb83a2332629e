import { builder, workspaceWide } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { createEnvironment, createWorkspace } from "./workspaces.service.js";
import { EnvironmentRef, WorkspaceRef } from "./workspaces.types.js";

const CreateWorkspaceInput = builder.inputType("CreateWorkspaceInput", {
  description: "The new workspace's slug and name.",
  fields: (t) => ({
    slug: t.string({ required: true, description: "Lowercase letters, digits and hyphens." }),
    name: t.string({ description: "Display name.", required: true }),
  }),
});

const CreateWorkspaceSuccess = builder
  .objectRef<{ workspace: { id: string }; key: string }>("CreateWorkspaceSuccess")
  .implement({
    description: "The workspace exists, with its first admin API key.",
    authScopes: { scope: "platform" },
    fields: (t) => ({
      workspace: t.field({
        description: "The new workspace.",
        type: WorkspaceRef,
        resolve: (result) => result.workspace as never,
      }),
      adminApiKey: t.string({
        description: "The new workspace's first admin API key. Shown once; store it now.",
        resolve: (result) => result.key,
      }),
    }),
  });

builder.mutationField("createWorkspace", (t) =>
  t.field({
    description:
      "Creates a workspace (a tenant) and its first admin API key, for operators running keyport for several teams. Returns ValidationError (bad or taken slug).",
    type: CreateWorkspaceSuccess,
    ...workspaceWide("platform"),
    errors: {
      types: commonErrors,
      union: { description: "The workspace and its admin key, or ValidationError." },
    },
    args: {
      input: t.arg({
        description: "The slug and name.",
        type: CreateWorkspaceInput,
        required: true,
      }),
    },
    resolve: (_root, { input }, context) =>
      createWorkspace(context.prisma, input, callerOf(context).actor),
  }),
);

const CreateEnvironmentInput = builder.inputType("CreateEnvironmentInput", {
  description: "The new environment's slug and name.",
  fields: (t) => ({
    slug: t.string({
      description:
        "Short name, unique in the workspace: lowercase letters, digits and hyphens (e.g. `staging`).",
      required: true,
    }),
    name: t.string({ description: "Display name.", required: true }),
  }),
});

const CreateEnvironmentSuccess = builder
  .objectRef<{ environment: { id: string } }>("CreateEnvironmentSuccess")
  .implement({
    description: "The environment exists.",
    authScopes: { scope: "admin" },
    fields: (t) => ({
      environment: t.field({
        description: "The new environment.",
        type: EnvironmentRef,
        resolve: (result) => result.environment as never,
      }),
    }),
  });

builder.mutationField("createEnvironment", (t) =>
  t.field({
    description:
      "Creates an environment in your workspace (e.g. `staging`), to keep its credentials and connectors apart. Returns ValidationError (bad or taken slug).",
    type: CreateEnvironmentSuccess,
    ...workspaceWide("admin"),
    errors: { types: commonErrors, union: { description: "The environment, or ValidationError." } },
    args: {
      input: t.arg({
        description: "The slug and name.",
        type: CreateEnvironmentInput,
        required: true,
      }),
    },
    resolve: async (_root, { input }, context) => {
      const { workspaceId, actor } = callerOf(context);
      return { environment: await createEnvironment(context.prisma, workspaceId, input, actor) };
    },
  }),
);
