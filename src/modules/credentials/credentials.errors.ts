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
