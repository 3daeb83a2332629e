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
  description: "What happened to a credential.",
  values: {
    AUTHORIZATION_STARTED: {
      description: "authorizeCredential or reauthorizeCredential started a flow.",
    },
    AUTHORIZED: { description: "The end user consented and tokens were stored." },
    AUTHORIZATION_FAILED: {
      description:
        "The flow ended without tokens (denied, expired, refused exchange, other account); see reason.",
    },
    REFRESHED: {
      description: "A new access token was obtained (refresh or client-credentials fetch).",
    },
    REFRESH_FAILED: {
      description:
        "Obtaining a new token failed; the credential may be DEGRADED while keyport retries.",
    },
    INVALIDATED: {
      description:
        "The credential became INVALID (e.g. refresh token revoked); connectors using it need attention.",
    },
    RESTORED: {
      description: "The credential became ACTIVE again after being DEGRADED or INVALID.",
    },
    ROTATED: { description: "Its secret was replaced (rotateCredential)." },
    VERIFIED: { description: "The provider accepted it in a check." },
    VERIFICATION_FAILED: {
      description:
        "The provider's dry call failed (testCredential or the idle re-check); see reason.",
    },
    DELETED: {
      description: "The credential was deleted; the event lists the connectors that used it.",
    },
  } as const,
});

const AttemptActionEnum = builder.enumType("CredentialAttemptAction", {
  description: "Which provider call an attempt was.",
  values: {
    AUTHORIZE: { description: "Sending the user to the authorization page." },
    EXCHANGE: { description: "Exchanging an authorization code for tokens." },
    REFRESH: { description: "Refreshing an access token." },
    CLIENT_CREDENTIALS: { description: "Fetching a token with the client-credentials grant." },
    TOKEN_REQUEST: {
      description: "A bearer credential's configured token request (its refreshRequest).",
    },
    REVOKE: { description: "Revoking a token at the provider." },
    VERIFY: { description: "The provider's dry call that checks a credential." },
  } as const,
});
const AttemptOutcomeEnum = builder.enumType("CredentialAttemptOutcome", {
  description: "How a provider call ended.",
  values: {
    SUCCESS: { description: "The provider accepted the call." },
    FAILURE: { description: "The call failed; see errorCode and httpStatus." },
  } as const,
});

type AttemptSource = NonNullable<CredentialEventRecord["attempt"]>;

const CredentialAttemptRef = builder.objectRef<AttemptSource>("CredentialAttempt").implement({
  description: "One call to the provider: what was tried, how it went and how long it took.",
  authScopes: credentialsRead,
  fields: (t) => ({
    action: t.field({
      description: "Which call it was.",
      type: AttemptActionEnum,
      resolve: (a) => a.action.toUpperCase() as never,
    }),
    outcome: t.field({
      description: "Whether it succeeded.",
      type: AttemptOutcomeEnum,
      resolve: (a) => a.outcome.toUpperCase() as never,
    }),
    durationMs: t.int({
      description: "How long the call took, in milliseconds; null when it was not timed.",
      nullable: true,
      resolve: (a) => a.durationMs,
    }),
    httpStatus: t.int({
      description: "The provider's HTTP status; null when no response arrived.",
      nullable: true,
      resolve: (a) => a.httpStatus,
    }),
    errorCode: t.field({
      description: "Why it failed; null on success.",
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
      id: t.id({
        description: "The connector's global id (it may no longer exist).",
        resolve: (connector) => connectorGlobalId(connector.id),
      }),
      name: t.exposeString("name", { description: "The connector's name at the time." }),
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
      type: t.field({
        description: "What happened.",
        type: CredentialEventTypeEnum,
        resolve: (event) => event.type as never,
      }),
      occurredAt: t.field({
        description: "When it happened (ISO 8601, UTC).",
        type: "DateTime",
        resolve: (event) => event.occurredAt,
      }),
      status: t.field({
        type: CredentialStatusEnum,
        description: "The credential's status after the event.",
        resolve: (event) => event.status as never,
      }),
      reason: t.field({
        description: "Why, for failures and status changes; null otherwise.",
        type: StatusReasonRef,
        nullable: true,
        resolve: (event) => event.reason,
      }),
      attempt: t.field({
        description: "The provider call behind the event, if there was one; null otherwise.",
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
