// Expected failures specific to credentials. Messages never contain secret values.
import type { CredentialStatus } from "./kinds/common.js";

export type StatusReason = { code: string; message: string };

/** The credential exists but cannot hand out auth material in its current state. */
export class CredentialNotUsableError extends Error {
  override name = "CredentialNotUsableError";
  constructor(
    readonly status: CredentialStatus,
    readonly reason: StatusReason | null,
    message: string,
  ) {
    super(message);
  }
}

/** The provider (authorization server) refused or failed; `code` classifies why. */
export class CredentialProviderError extends Error {
  override name = "CredentialProviderError";
  constructor(
    readonly code: string,
    message: string,
    /** Whether the failure was written to the credential (status and history). */
    readonly wroteStatus = false,
  ) {
    super(message);
  }
}

/** Connectors use the credential; deleting it needs `force`. Lists them (raw connector rows). */
export class CredentialInUseError extends Error {
  override name = "CredentialInUseError";
  constructor(readonly connectors: { id: string; name: string }[]) {
    super(
      `The credential is used by ${connectors.length} connector${connectors.length === 1 ? "" : "s"}; switch them to another credential, delete them, or delete with force: true (they become NEEDS_CREDENTIAL).`,
    );
  }
}

/**
 * Another change to the credential (a concurrent rotation or rollback, or a token refresh)
 * committed while this one was being prepared; nothing was changed by this request.
 */
export class CredentialConflictError extends Error {
  override name = "CredentialConflictError";
  constructor(
    message = "The credential was changed by another request meanwhile; nothing was changed, retry.",
  ) {
    super(message);
  }
}

/** The provider's dry call failed; `code` classifies why (on create, nothing was stored). */
export class CredentialVerificationError extends Error {
  override name = "CredentialVerificationError";
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number | null,
  ) {
    super(message);
  }
}

export type RollbackUnavailableReason = "NO_PREVIOUS_SECRET" | "OVERLAP_EXPIRED";

/** A rotation cannot be rolled back: none kept a previous secret, or its overlap window closed. */
export class RotationRollbackUnavailableError extends Error {
  override name = "RotationRollbackUnavailableError";
  constructor(
    readonly reason: RollbackUnavailableReason,
    /** When the overlap window closed (OVERLAP_EXPIRED), if known. */
    readonly expiredAt: Date | null,
  ) {
    super(
      reason === "OVERLAP_EXPIRED"
        ? `The previous secret is no longer kept: the rotation's overlap window closed${expiredAt ? ` at ${expiredAt.toISOString()}` : ""}.`
        : "There is no previous secret to restore: the credential has not been rotated with an overlap, or the rotation was already rolled back.",
    );
  }
}

/** The credential's provider offers no dry call for it (no verify request in the catalog). */
export class CredentialNotVerifiableError extends Error {
  override name = "CredentialNotVerifiableError";
}
