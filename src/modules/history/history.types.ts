// Credential events (a credential's history and, later, subscription payloads): one per
// authorization, exchange, refresh, client-credentials fetch and status change. Events never hold
// tokens. The GraphQL type reads the same plain record that is published after commit.
import { resolveCursorConnection } from "@pothos/plugin-relay";
import DataLoader from "dataloader";
import { builder } from "../../builder.js";
import { type Context, callerOf } from "../../context.js";
import { connectorScope } from "../connectors/connectors.service.js";
import { ConnectorRef, connectorGlobalId, connectorsRead } from "../connectors/connectors.types.js";
import { credentialScope } from "../credentials/credentials.service.js";
import {
  CredentialBaseRef,
  CredentialErrorCodeEnum,
  CredentialStatusEnum,
  CredentialUnion,
  credentialsRead,
  StatusReasonRef,
} from "../credentials/credentials.types.js";
import {
  type CredentialEventRecord,
  type DependentConnector,
  eventRecordOf,
  parseEventId,
} from "../events/events.service.js";

export const CredentialEventTypeEnum = builder.enumType("CredentialEventType", {
  values: [
    "AUTHORIZATION_STARTED",
    "AUTHORIZED",
    "AUTHORIZATION_FAILED",
    "REFRESHED",
    "REFRESH_FAILED",
    "INVALIDATED",
    "RESTORED",
    "ROTATED",
    "VERIFIED",
    "DELETED",
  ] as const,
});

const AttemptActionEnum = builder.enumType("CredentialAttemptAction", {
  values: {
    AUTHORIZE: { description: "The start of an authorization (the redirect to the provider)." },
    EXCHANGE: { description: "The exchange of an authorization code for tokens." },
    REFRESH: { description: "A refresh-token grant." },
    CLIENT_CREDENTIALS: { description: "A client-credentials grant." },
    TOKEN_REQUEST: {
      description: "A bearer credential's configured token request (its refreshRequest).",
    },
    REVOKE: { description: "A token revocation." },
  } as const,
});
const AttemptOutcomeEnum = builder.enumType("CredentialAttemptOutcome", {
  values: ["SUCCESS", "FAILURE"] as const,
});

type AttemptSource = NonNullable<CredentialEventRecord["attempt"]>;

const CredentialAttemptRef = builder.objectRef<AttemptSource>("CredentialAttempt").implement({
  description: "One call to the provider: what was tried, how it went and how long it took.",
  authScopes: credentialsRead,
  fields: (t) => ({
    action: t.field({ type: AttemptActionEnum, resolve: (a) => a.action.toUpperCase() as never }),
    outcome: t.field({
      type: AttemptOutcomeEnum,
      resolve: (a) => a.outcome.toUpperCase() as never,
    }),
    durationMs: t.int({ nullable: true, resolve: (a) => a.durationMs }),
    httpStatus: t.int({ nullable: true, resolve: (a) => a.httpStatus }),
    errorCode: t.field({
      type: CredentialErrorCodeEnum,
      nullable: true,
      resolve: (a) => a.errorCode as never,
    }),
    updatedFields: t.stringList({
      description:
        "The names of the values a successful token request updated (accessToken, refreshToken, expiresAt); never a value.",
      resolve: (a) => a.updatedFields,
    }),
  }),
});

const DependentConnectorRef = builder
  .objectRef<DependentConnector>("DependentConnector")
  .implement({
    description:
      "A connector as it was when an event happened (kept after the connector or credential is deleted).",
    authScopes: connectorsRead,
    fields: (t) => ({
      id: t.id({ resolve: (connector) => connectorGlobalId(connector.id) }),
      name: t.exposeString("name"),
    }),
  });

// Per-request loaders: a page of events resolves its credentials and connectors in one query each.
const loaders = new WeakMap<Context, ReturnType<typeof createLoaders>>();
function createLoaders(context: Context) {
  const caller = callerOf(context);
  return {
    credential: new DataLoader(async (ids: readonly string[]) => {
      const rows = await context.prisma.credential.findMany({
        where: { id: { in: [...ids] }, ...credentialScope(caller) },
      });
      return ids.map((id) => rows.find((row) => row.id === id) ?? null);
    }),
    connector: new DataLoader(async (ids: readonly string[]) => {
      const rows = await context.prisma.connector.findMany({
        where: { id: { in: [...ids] }, ...connectorScope(caller) },
      });
      return ids.map((id) => rows.find((row) => row.id === id) ?? null);
    }),
  };
}
function loadersOf(context: Context) {
  let found = loaders.get(context);
  if (!found) {
    found = createLoaders(context);
    loaders.set(context, found);
  }
  return found;
}

export const CredentialEventRef = builder
  .objectRef<CredentialEventRecord>("CredentialEvent")
  .implement({
    description: "A status change or provider call of a credential, as it was recorded.",
    authScopes: credentialsRead,
    fields: (t) => ({
      id: t.id({
        description:
          "Opaque, and ordered: a later event's id sorts after an earlier one's (as strings).",
        resolve: (event) => event.id,
      }),
      type: t.field({ type: CredentialEventTypeEnum, resolve: (event) => event.type as never }),
      occurredAt: t.field({ type: "DateTime", resolve: (event) => event.occurredAt }),
      status: t.field({
        type: CredentialStatusEnum,
        description: "The credential's status after the event.",
        resolve: (event) => event.status as never,
      }),
      reason: t.field({
        type: StatusReasonRef,
        nullable: true,
        resolve: (event) => event.reason,
      }),
      attempt: t.field({
        type: CredentialAttemptRef,
        nullable: true,
        resolve: (event) => event.attempt,
      }),
      credential: t.field({
        type: CredentialUnion,
        nullable: true,
        description: "Null once the credential has been deleted.",
        resolve: (event, _args, context) =>
          loadersOf(context).credential.load(event.credentialId) as never,
      }),
      dependentConnectors: t.field({
        type: [ConnectorRef],
        description:
          "The connectors that used the credential when the event happened and still exist. Empty without connectors:read.",
        authScopes: connectorsRead,
        unauthorizedResolver: () => [],
        resolve: async (event, _args, context) => {
          const found = await loadersOf(context).connector.loadMany(
            event.dependents.map((connector) => connector.id),
          );
          return found.filter(
            (row): row is NonNullable<typeof row> => row !== null && !(row instanceof Error),
          ) as never;
        },
      }),
      dependents: t.field({
        type: [DependentConnectorRef],
        description:
          "Ids and names of the connectors that used the credential when the event happened, deleted ones included. Empty without connectors:read.",
        authScopes: connectorsRead,
        unauthorizedResolver: () => [],
        resolve: (event) => event.dependents,
      }),
    }),
  });

const CredentialEventConnectionRef = builder.connectionObject(
  { type: CredentialEventRef, name: "CredentialEventConnection", authScopes: credentialsRead },
  { name: "CredentialEventEdge", authScopes: credentialsRead },
);

builder.prismaInterfaceField(CredentialBaseRef, "history", (t) =>
  t.connection(
    {
      type: CredentialEventRef,
      description: "Attempts and status changes, newest first.",
      select: { id: true, workspaceId: true },
      resolve: (credential, args, context) =>
        resolveCursorConnection(
          {
            args,
            toCursor: (event) => (event as CredentialEventRecord).id,
            defaultSize: 20,
            maxSize: 100,
          },
          async ({ before, after, limit, inverted }): Promise<CredentialEventRecord[]> => {
            const id: { lt?: bigint; gt?: bigint } = {};
            // Newest first: "after" a cursor means older events.
            const older = after ? parseEventId(after) : null;
            const newer = before ? parseEventId(before) : null;
            if (older !== null) id.lt = older;
            if (newer !== null) id.gt = newer;
            const rows = await context.prisma.credentialEvent.findMany({
              where: { credentialId: credential.id, workspaceId: credential.workspaceId, id },
              orderBy: { id: inverted ? "asc" : "desc" },
              take: limit,
            });
            return rows.map(eventRecordOf);
          },
        ) as never,
    },
    CredentialEventConnectionRef,
  ),
);
