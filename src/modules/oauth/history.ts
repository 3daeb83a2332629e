// Credential history entries. Written inside the transaction of the change they describe.
import type { Prisma } from "../../generated/prisma/client.js";
import type { CredentialStatus } from "../credentials/kinds/common.js";

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
  | "DELETED";

export type AttemptAction = "authorize" | "exchange" | "refresh" | "client_credentials" | "revoke";

export type Attempt = {
  action: AttemptAction;
  outcome: "success" | "failure";
  durationMs: number;
  httpStatus: number | null;
  errorCode: string | null;
};

export type CredentialEventInput = {
  workspaceId: string;
  credentialId: string;
  type: CredentialEventType;
  status: CredentialStatus;
  reason?: { code: string; message: string } | null;
  attempt?: Attempt | null;
};

export async function recordCredentialEvent(
  tx: Prisma.TransactionClient,
  event: CredentialEventInput,
) {
  await tx.credentialEvent.create({
    data: {
      workspaceId: event.workspaceId,
      credentialId: event.credentialId,
      type: event.type,
      status: event.status,
      reasonCode: event.reason?.code ?? null,
      reasonMessage: event.reason?.message ?? null,
      action: event.attempt?.action ?? null,
      outcome: event.attempt?.outcome ?? null,
      durationMs: event.attempt ? Math.round(event.attempt.durationMs) : null,
      httpStatus: event.attempt?.httpStatus ?? null,
      errorCode: event.attempt?.errorCode ?? null,
    },
  });
}
