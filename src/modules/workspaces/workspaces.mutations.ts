import { builder, workspaceWide } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { createEnvironment, createWorkspace } from "./workspaces.service.js";
import { EnvironmentRef, WorkspaceRef } from "./workspaces.types.js";

const CreateWorkspaceInput = builder.inputType("CreateWorkspaceInput", {
  fields: (t) => ({
    slug: t.string({ required: true, description: "Lowercase letters, digits and hyphens." }),
    name: t.string({ required: true }),
  }),
});

const CreateWorkspaceSuccess = builder
  .objectRef<{ workspace: { id: string }; key: string }>("CreateWorkspaceSuccess")
  .implement({
    authScopes: { scope: "platform" },
    fields: (t) => ({
      workspace: t.field({ type: WorkspaceRef, resolve: (result) => result.workspace as never }),
      adminApiKey: t.string({
        description: "The new workspace's first admin API key. Shown once; store it now.",
        resolve: (result) => result.key,
      }),
    }),
  });

builder.mutationField("createWorkspace", (t) =>
  t.field({
    type: CreateWorkspaceSuccess,
    ...workspaceWide("platform"),
    errors: { types: commonErrors },
    args: { input: t.arg({ type: CreateWorkspaceInput, required: true }) },
    resolve: (_root, { input }, context) =>
      createWorkspace(context.prisma, input, callerOf(context).actor),
  }),
);

const CreateEnvironmentInput = builder.inputType("CreateEnvironmentInput", {
  fields: (t) => ({
    slug: t.string({ required: true }),
    name: t.string({ required: true }),
  }),
});

const CreateEnvironmentSuccess = builder
  .objectRef<{ environment: { id: string } }>("CreateEnvironmentSuccess")
  .implement({
    authScopes: { scope: "admin" },
    fields: (t) => ({
      environment: t.field({
        type: EnvironmentRef,
        resolve: (result) => result.environment as never,
      }),
    }),
  });

builder.mutationField("createEnvironment", (t) =>
  t.field({
    type: CreateEnvironmentSuccess,
    ...workspaceWide("admin"),
    errors: { types: commonErrors },
    args: { input: t.arg({ type: CreateEnvironmentInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const { workspaceId, actor } = callerOf(context);
      return { environment: await createEnvironment(context.prisma, workspaceId, input, actor) };
    },
  }),
);
