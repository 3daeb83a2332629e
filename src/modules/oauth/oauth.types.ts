// Credential history: one entry per authorization, exchange, refresh, client-credentials fetch
// and status change. Entries never hold tokens.
import { builder } from "../../builder.js";
import {
  CredentialBaseRef,
  CredentialErrorCodeEnum,
  CredentialStatusEnum,
  CredentialUnion,
  credentialsRead,
  StatusReasonRef,
} from "../credentials/credentials.types.js";

const CredentialEventTypeEnum = builder.enumType("CredentialEventType", {
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
  values: ["AUTHORIZE", "EXCHANGE", "REFRESH", "CLIENT_CREDENTIALS", "REVOKE"] as const,
});
const AttemptOutcomeEnum = builder.enumType("CredentialAttemptOutcome", {
  values: ["SUCCESS", "FAILURE"] as const,
});

type AttemptSource = {
  action: string;
  outcome: string;
  durationMs: number | null;
  httpStatus: number | null;
  errorCode: string | null;
};

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
  }),
});

export const CredentialEventRef = builder.prismaObject("CredentialEvent", {
  authScopes: credentialsRead,
  fields: (t) => ({
    id: t.exposeID("id"),
    type: t.expose("type", { type: CredentialEventTypeEnum }),
    occurredAt: t.expose("occurredAt", { type: "DateTime" }),
    status: t.expose("status", { type: CredentialStatusEnum }),
    reason: t.field({
      type: StatusReasonRef,
      nullable: true,
      resolve: (event) =>
        event.reasonCode ? { code: event.reasonCode, message: event.reasonMessage ?? "" } : null,
    }),
    attempt: t.field({
      type: CredentialAttemptRef,
      nullable: true,
      resolve: (event) =>
        event.action && event.outcome
          ? {
              action: event.action,
              outcome: event.outcome,
              durationMs: event.durationMs,
              httpStatus: event.httpStatus,
              errorCode: event.errorCode,
            }
          : null,
    }),
    credential: t.field({
      type: CredentialUnion,
      select: { credential: true },
      resolve: (event) => event.credential as never,
    }),
  }),
});

builder.prismaInterfaceField(CredentialBaseRef, "history", (t) =>
  t.relatedConnection(
    "events",
    {
      description: "Attempts and status changes, newest first.",
      cursor: "id",
      query: { orderBy: { id: "desc" } },
      maxSize: 100,
    },
    { name: "CredentialEventConnection", authScopes: credentialsRead },
    { name: "CredentialEventEdge", authScopes: credentialsRead },
  ),
);
