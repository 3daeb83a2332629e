// Credential events (a credential's history). Written inside the transaction of the change they
// describe; published to subscribers only after that transaction commits.
import type { PrismaClient } from "../../db.js";
import type { Prisma } from "../../generated/prisma/client.js";
import type { Logger } from "../../lib/logger.js";
import type { PubSub } from "../../pubsub.js";
import {
  type CredentialEventRecord,
  type DependentConnector,
  eventRecordOf,
  publishCredentialEvents,
} from "../events/events.service.js";
import type { CredentialStatus } from "./kinds/common.js";

export type CredentialEventType =
  | "AUTHORIZATION_STARTED"
  | "AUTHORIZED"
  | "AUTHORIZATION_FAILED"
  | "REFRESHED"
  | "REFRESH_FAILED"
  | "INVALIDATED"
  | "RESTORED"
  | "ROTATED"
  | "VERIFIED"
  | "VERIFICATION_FAILED"
  | "DELETED";

export type AttemptAction =
  | "authorize"
  | "exchange"
  | "refresh"
  | "client_credentials"
  | "token_request"
  | "revoke"
  | "verify";

export type Attempt = {
  action: AttemptAction;
  outcome: "success" | "failure";
  durationMs: number;
  httpStatus: number | null;
  errorCode: string | null;
  /** Names of the values a successful token request updated (never a value). */
  updatedFields?: string[];
};

export type CredentialEventInput = {
  workspaceId: string;
  credentialId: string;
  type: CredentialEventType;
  status: CredentialStatus;
  reason?: { code: string; message: string } | null;
  attempt?: Attempt | null;
  /** The credential's environment; read with the dependents when not given. */
  environmentId?: string;
  /** The connectors using the credential; read in the transaction when not given (give them
   * when the change itself detaches them, as a forced delete does). */
  dependents?: DependentConnector[];
  /** The credential's end user and provider; read with the dependents when not given. */
  owner?: { externalUserId: string | null; providerKey: string | null };
};

/** Serializes event writers per workspace until commit, so ids grow in commit order. */
async function lockEventSequence(tx: Prisma.TransactionClient, workspaceId: string) {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext(${`credential-events:${workspaceId}`}))`;
}

/**
 * Writes one event in `tx` and returns it as published after commit. Call it last in a
 * transaction (after the row changes it records): it takes the workspace's event lock, which is
 * held until the transaction ends.
 */
export async function recordCredentialEvent(
  tx: Prisma.TransactionClient,
  event: CredentialEventInput,
): Promise<CredentialEventRecord> {
  let { environmentId, dependents, owner } = event;
  if (environmentId === undefined || dependents === undefined || owner === undefined) {
    const credential = await tx.credential.findUnique({
      where: { id: event.credentialId },
      select: {
        environmentId: true,
        externalUserId: true,
        providerKey: true,
        connectors: { select: { id: true, name: true }, orderBy: { id: "asc" } },
      },
    });
    environmentId ??= credential?.environmentId ?? "";
    dependents ??= credential?.connectors ?? [];
    owner ??= {
      externalUserId: credential?.externalUserId ?? null,
      providerKey: credential?.providerKey ?? null,
    };
  }
  await lockEventSequence(tx, event.workspaceId);
  const row = await tx.credentialEvent.create({
    data: {
      workspaceId: event.workspaceId,
      environmentId,
      credentialId: event.credentialId,
      externalUserId: owner.externalUserId,
      providerKey: owner.providerKey,
      type: event.type,
      status: event.status,
      reasonCode: event.reason?.code ?? null,
      reasonMessage: event.reason?.message ?? null,
      action: event.attempt?.action ?? null,
      outcome: event.attempt?.outcome ?? null,
      durationMs: event.attempt ? Math.round(event.attempt.durationMs) : null,
      httpStatus: event.attempt?.httpStatus ?? null,
      errorCode: event.attempt?.errorCode ?? null,
      updatedFields: event.attempt?.updatedFields ?? [],
      dependents,
    },
  });
  return eventRecordOf(row);
}

export type EventDeps = { prisma: PrismaClient; pubsub: PubSub; logger: Logger };
export type RecordEvent = (event: CredentialEventInput) => Promise<CredentialEventRecord>;

/**
 * Runs `work` in one transaction with a `record` function for its events; once the transaction
 * has committed, the recorded events are published (a rolled-back transaction publishes nothing).
 */
export async function withCredentialEvents<T>(
  deps: EventDeps,
  work: (tx: Prisma.TransactionClient, record: RecordEvent) => Promise<T>,
): Promise<T> {
  const recorded: CredentialEventRecord[] = [];
  const result = await deps.prisma.$transaction(async (tx) => {
    recorded.length = 0;
    return work(tx, async (event) => {
      const stored = await recordCredentialEvent(tx, event);
      recorded.push(stored);
      return stored;
    });
  });
  publishCredentialEvents(deps, recorded);
  return result;
}
