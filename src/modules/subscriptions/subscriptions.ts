// The Subscription fields. Every subscription is authorized when it starts (scope-auth's
// authorizeOnSubscribe), then filters each event by workspace (the channel), the caller's
// environment limit and the subscriber's own filter; `after` replays the stored events first.
import { GraphQLError } from "graphql";
import { builder } from "../../builder.js";
import { type Caller, type Context, callerOf } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { tryDecodeId } from "../common/ids.js";
import {
  type CredentialEventRecord,
  credentialEventsChannel,
  eventRecordOf,
  parseEventId,
} from "../events/events.service.js";
import { CredentialEventRef, CredentialEventTypeEnum } from "../history/history.types.js";
import { callerWatchOf } from "./caller-watch.js";
import { createEventStream, StreamEnd } from "./stream.js";

const replayPageSize = 500;

/** The event types that leave a credential unusable (credentialInvalidated). */
const invalidatingTypes = new Set(["INVALIDATED", "DELETED"]);
export function isInvalidation(event: Pick<CredentialEventRecord, "type" | "status">): boolean {
  return (
    invalidatingTypes.has(event.type) ||
    (event.type === "REFRESH_FAILED" && event.status === "INVALID")
  );
}

function badInput(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT" } });
}

/** The sequence of an `after` event id; a malformed one is the caller's error. */
function afterSequence(after: string | null | undefined): bigint | undefined {
  if (after === null || after === undefined) return undefined;
  const sequence = parseEventId(String(after));
  if (sequence === null) throw badInput("after: is not a valid CredentialEvent id");
  return sequence;
}

/** The raw environment id of a filter, or "" (matches nothing) for a foreign type. */
function environmentOf(globalId: string | null | undefined): string | undefined {
  if (globalId === null || globalId === undefined) return undefined;
  const decoded = tryDecodeId(String(globalId));
  if (!decoded) throw badInput("environmentId: is not a valid Environment id");
  return decoded.typename === "Environment" ? decoded.id : "";
}

type Selection = {
  /** Checked on every event, live and replayed. */
  accept(event: CredentialEventRecord): boolean;
  /** The same selection for the stored events (the visibility part is added here). */
  where: Prisma.CredentialEventWhereInput;
  after: bigint | undefined;
};

/** What an environment-limited caller may see, on top of the workspace (the channel). */
function visibleTo(caller: Caller, event: CredentialEventRecord): boolean {
  return (
    event.workspaceId === caller.workspaceId &&
    (caller.environmentId === null || event.environmentId === caller.environmentId)
  );
}

type ServerContext = {
  socket?: { terminate?: () => void; bufferedAmount?: number; readyState?: number };
  req?: { socket?: { destroy?: () => void; writableLength?: number; destroyed?: boolean } };
  res?: { writableFinished?: boolean };
};

function eventStream(context: Context, selection: Selection) {
  const caller = callerOf(context);
  const { services } = context;
  const live = services.pubsub.bus.subscribe(credentialEventsChannel, caller.workspaceId);
  let unwatch = () => {};
  let unrecover = () => {};
  const where: Prisma.CredentialEventWhereInput = {
    AND: [
      { workspaceId: caller.workspaceId },
      caller.environmentId ? { environmentId: caller.environmentId } : {},
      selection.where,
    ],
  };
  const transport = context as unknown as ServerContext;
  const stream = createEventStream<CredentialEventRecord>({
    live,
    after: selection.after,
    replay: async function* (after) {
      let cursor = after;
      for (;;) {
        const rows = await context.prisma.credentialEvent.findMany({
          where: { AND: [where, { id: { gt: cursor } }] },
          orderBy: { id: "asc" },
          take: replayPageSize,
        });
        if (rows.length === 0) return;
        yield rows.map(eventRecordOf);
        cursor = rows[rows.length - 1]?.id ?? cursor;
        if (rows.length < replayPageSize) return;
      }
    },
    sequenceOf: (event) => BigInt(event.sequence),
    accept: (event) => visibleTo(caller, event) && selection.accept(event),
    bufferSize: services.config.subscriptions.bufferSize,
    onEnd: () => {
      unwatch();
      unrecover();
    },
    // A consumer that does not even take the end marker is not reading: close its connection.
    forceClose: () => {
      const { socket, req, res } = transport;
      if (socket?.terminate) {
        if ((socket.bufferedAmount ?? 0) > 0) socket.terminate();
      } else if (
        req?.socket &&
        !req.socket.destroyed &&
        ((req.socket.writableLength ?? 0) > 0 || res?.writableFinished === false)
      ) {
        req.socket.destroy?.();
      }
    },
  });
  unwatch = callerWatchOf(services).add(caller, (reason, message) => stream.end(reason, message));
  // After a pub/sub outage the stream replays what it missed from the table, from the last event
  // it saw or, before any, from the newest stored event when it started.
  if (services.pubsub.kind !== "memory") {
    unrecover = services.pubsub.onOutage({
      lost: () => stream.suspend(),
      recovered: () => stream.catchUp(),
    });
    if (selection.after === undefined) {
      context.prisma.credentialEvent
        .findFirst({
          where: { workspaceId: caller.workspaceId },
          orderBy: { id: "desc" },
          select: { id: true },
        })
        .then((newest) => stream.startAt(newest?.id ?? 0n))
        .catch(() => {});
    }
  }
  return stream;
}

/** An ended stream's reason reaches every transport as the last result's error. */
function resolveEvent(payload: CredentialEventRecord | StreamEnd): CredentialEventRecord {
  if (payload instanceof StreamEnd) {
    throw new GraphQLError(payload.message, {
      extensions: { code: "SUBSCRIPTION_ENDED", reason: payload.reason },
    });
  }
  return payload;
}

const CredentialEventsFilter = builder.inputType("CredentialEventsFilter", {
  fields: (t) => ({
    credentialIds: t.idList({ required: false, description: "Only these credentials." }),
    types: t.field({ type: [CredentialEventTypeEnum], required: false }),
    environmentId: t.id({ required: false }),
    after: t.id({
      required: false,
      description:
        "An event id: first replay the stored events after it (oldest first), then continue live.",
    }),
  }),
});

builder.subscriptionField("credentialEvents", (t) =>
  t.field({
    type: CredentialEventRef,
    description:
      "Credential events of the caller's workspace (and environment, for a limited key) as they commit. Scope credentials:read.",
    authScopes: { scope: "credentials:read" },
    args: { filter: t.arg({ type: CredentialEventsFilter, required: false }) },
    subscribe: (_root, { filter }, context) => {
      const after = afterSequence(filter?.after);
      const environmentId = environmentOf(filter?.environmentId);
      let credentialIds: string[] | undefined;
      if (filter?.credentialIds) {
        credentialIds = filter.credentialIds.map((id) => {
          const decoded = tryDecodeId(String(id));
          if (!decoded) throw badInput("credentialIds: is not a valid Credential id");
          return decoded.id;
        });
      }
      const credentials = credentialIds ? new Set(credentialIds) : null;
      const types = filter?.types?.length ? new Set<string>(filter.types) : null;
      return eventStream(context, {
        after,
        accept: (event) =>
          (environmentId === undefined || event.environmentId === environmentId) &&
          (!credentials || credentials.has(event.credentialId)) &&
          (!types || types.has(event.type)),
        where: {
          ...(environmentId !== undefined ? { environmentId } : {}),
          ...(credentialIds ? { credentialId: { in: credentialIds } } : {}),
          ...(types ? { type: { in: [...types] as never } } : {}),
        },
      }) as never;
    },
    resolve: (payload) => resolveEvent(payload as CredentialEventRecord | StreamEnd),
  }),
);

builder.subscriptionField("credentialInvalidated", (t) =>
  t.field({
    type: CredentialEventRef,
    description:
      "Events that leave a credential unusable: INVALIDATED, DELETED, and REFRESH_FAILED with status INVALID. Scope credentials:read.",
    authScopes: { scope: "credentials:read" },
    args: {
      environmentId: t.arg.id({ required: false }),
      after: t.arg.id({
        required: false,
        description: "An event id: replay the stored invalidations after it, then continue live.",
      }),
    },
    subscribe: (_root, args, context) => {
      const after = afterSequence(args.after);
      const environmentId = environmentOf(args.environmentId);
      return eventStream(context, {
        after,
        accept: (event) =>
          (environmentId === undefined || event.environmentId === environmentId) &&
          isInvalidation(event),
        where: {
          ...(environmentId !== undefined ? { environmentId } : {}),
          OR: [
            { type: { in: ["INVALIDATED", "DELETED"] } },
            { type: "REFRESH_FAILED", status: "INVALID" },
          ],
        },
      }) as never;
    },
    resolve: (payload) => resolveEvent(payload as CredentialEventRecord | StreamEnd),
  }),
);

builder.subscriptionField("connectorCredentialStatus", (t) =>
  t.field({
    type: CredentialEventRef,
    description:
      "Events of the credential a connector uses (whichever it uses when the event happens). Scopes connectors:read and credentials:read.",
    authScopes: { $all: { scope: "connectors:read", anyScope: ["credentials:read"] } },
    args: {
      connectorId: t.arg.id({ required: true }),
      after: t.arg.id({
        required: false,
        description: "An event id: replay the connector's stored events after it, then continue.",
      }),
    },
    subscribe: async (_root, args, context) => {
      const caller = callerOf(context);
      const after = afterSequence(args.after);
      const decoded = tryDecodeId(String(args.connectorId));
      const connector =
        decoded?.typename === "Connector"
          ? await context.prisma.connector.findFirst({
              where: {
                id: decoded.id,
                workspaceId: caller.workspaceId,
                ...(caller.environmentId ? { environmentId: caller.environmentId } : {}),
              },
              select: { id: true },
            })
          : null;
      // Another workspace's connector behaves exactly like one that does not exist.
      if (!connector) throw badInput("connectorId: no such connector");
      return eventStream(context, {
        after,
        accept: (event) => event.dependents.some((dependent) => dependent.id === connector.id),
        where: { dependents: { array_contains: [{ id: connector.id }] } },
      }) as never;
    },
    resolve: (payload) => resolveEvent(payload as CredentialEventRecord | StreamEnd),
  }),
);
