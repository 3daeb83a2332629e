// GraphQL of connect sessions: createConnectSession (credentials:write) and Viewer.connectSession.
import { builder } from "../../builder.js";
import { callerOf } from "../../context.js";
import { commonErrors } from "../common/errors.types.js";
import { rawIdOf } from "../common/ids.js";
import { ViewerRef } from "../workspaces/workspaces.types.js";
import {
  type ConnectSessionView,
  createConnectSession,
  defaultConnectSessionTtlSeconds,
  maxConnectSessionTtlSeconds,
  minConnectSessionTtlSeconds,
} from "./connect-sessions.service.js";

export const ConnectSessionRef = builder.objectRef<ConnectSessionView>("ConnectSession").implement({
  description:
    "What a connect session is limited to: one end user in one environment, and the listed providers if any, until it expires.",
  authScopes: { authenticated: true },
  fields: (t) => ({
    externalUserId: t.exposeString("externalUserId", {
      description: "The end user whose credentials the session may see and manage.",
    }),
    environment: t.prismaField({
      type: "Environment",
      description: "The environment the session's credentials belong to.",
      resolve: (query, session, _args, { prisma }) =>
        prisma.environment.findUniqueOrThrow({ ...query, where: { id: session.environmentId } }),
    }),
    providerKeys: t.exposeStringList("providerKeys", {
      description:
        "When not empty, the session sees and creates only credentials of these providers.",
    }),
    expiresAt: t.expose("expiresAt", {
      type: "DateTime",
      description: "When the token stops being accepted (and its subscriptions end).",
    }),
  }),
});

builder.objectField(ViewerRef, "connectSession", (t) =>
  t.field({
    type: ConnectSessionRef,
    nullable: true,
    description: "For a connect-session token: what it is limited to. Null for API keys and JWTs.",
    resolve: (_viewer, _args, context) => {
      const connect = context.caller?.connect;
      if (!context.caller || !connect) return null;
      return {
        environmentId: context.caller.environmentId ?? "",
        externalUserId: connect.externalUserId,
        providerKeys: connect.providerKeys,
        expiresAt: connect.expiresAt,
      };
    },
  }),
);

const CreateConnectSessionInput = builder.inputType("CreateConnectSessionInput", {
  description: "Who the connect session is for, and for how long.",
  fields: (t) => ({
    environmentId: t.id({
      description:
        "The environment of the end user's credentials. Default: the one your key is limited to; a limited key cannot name another.",
    }),
    externalUserId: t.string({
      required: true,
      description: "Your own id of the end user (1-200 characters, one line).",
    }),
    providerKeys: t.stringList({
      description:
        "Limit the session to credentials of these providers; empty or absent for any provider.",
    }),
    ttlSeconds: t.int({
      description: `Lifetime in seconds: default ${defaultConnectSessionTtlSeconds} (30 minutes), from ${minConnectSessionTtlSeconds} to ${maxConnectSessionTtlSeconds} (24 hours).`,
    }),
  }),
});

const CreateConnectSessionSuccess = builder
  .objectRef<{ token: string; session: ConnectSessionView }>("CreateConnectSessionSuccess")
  .implement({
    description: "A new connect session and its token.",
    authScopes: { scope: "credentials:write" },
    fields: (t) => ({
      token: t.string({
        description:
          "The browser-safe token (prefix kpcs_), sent as Authorization: Bearer <token>. Shown once; keyport keeps only its hash.",
        resolve: (result) => result.token,
      }),
      expiresAt: t.field({
        type: "DateTime",
        description: "When the token stops being accepted.",
        resolve: (result) => result.session.expiresAt,
      }),
      session: t.field({
        type: ConnectSessionRef,
        description: "What the token is limited to.",
        resolve: (result) => result.session,
      }),
    }),
  });

builder.mutationField("createConnectSession", (t) =>
  t.field({
    type: CreateConnectSessionSuccess,
    authScopes: { scope: "credentials:write" },
    description:
      "Creates a short-lived token a browser may hold: it manages the credentials of one end user in one environment (create, authorize, list, read non-secret fields, delete), never reads secrets or acquires headers.",
    errors: {
      types: commonErrors,
      union: {
        description:
          "The session's token, or ValidationError (bad lifetime or user) or NotFoundError (environment).",
      },
    },
    args: {
      input: t.arg({
        type: CreateConnectSessionInput,
        required: true,
        description: "Who the session is for, and for how long.",
      }),
    },
    resolve: (_root, { input }, context) => {
      const environmentId = input.environmentId
        ? rawIdOf(String(input.environmentId), "Environment", ["environmentId"])
        : null;
      return createConnectSession(context.prisma, callerOf(context), { ...input, environmentId });
    },
  }),
);
