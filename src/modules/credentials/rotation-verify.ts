// Checking a new secret with its provider before a rotation swaps it in. Everything a rotation
// needs to know about verification goes through verifyRotatedSecret, which dispatches to the
// kind's rotationCheck, or to the provider's verify request for static kinds; others pass unchecked.
import type { Credential } from "../../generated/prisma/client.js";
import { TokenEndpointError } from "../oauth/token-client.js";
import { CredentialProviderError, CredentialVerificationError } from "./credentials.errors.js";
import type { Attempt } from "./history.js";
import { kindDefinitions, settingsOf } from "./kinds/index.js";
import { maxTokenAttempts } from "./refresh.service.js";
import { attemptFrom } from "./token-store.js";
import { type VerifiableCredential, verifySecretMaterial } from "./verification.service.js";

export type RotationVerification = {
  /** The provider was asked and accepted the new secret (false: nothing to ask yet). */
  verified: boolean;
  /** Secrets the provider issued for the new secret (client credentials: an access token),
   * stored with it. */
  issued: Record<string, string>;
  /** When what it issued expires, if it said. */
  expiresAt: Date | null;
  /** The request that verified it, for the credential's history. */
  attempt: Attempt | null;
};

const unchecked: RotationVerification = {
  verified: false,
  issued: {},
  expiresAt: null,
  attempt: null,
};

/**
 * Asks the provider whether `newSecrets` (the credential's rotatable secret, by field) work,
 * through the kind's rotationCheck (client credentials: a token request with the new client
 * secret through the token client). A refusal (401, invalid_client) or an unreachable or refused
 * endpoint throws CredentialProviderError with the classified code; the rotation then changes
 * nothing. Kinds without a check pass unchecked.
 */
export async function verifyRotatedSecret(
  deps: Parameters<typeof verifySecretMaterial>[0],
  row: Pick<Credential, "kind" | "settings"> & VerifiableCredential,
  newSecrets: Record<string, string>,
): Promise<RotationVerification> {
  const check = kindDefinitions[row.kind].rotationCheck;
  if (!check) {
    // Static kinds: the provider's verify request (from the catalog), with the new secret.
    const outcome = await verifySecretMaterial(deps, row, newSecrets);
    if (!outcome) return unchecked;
    if (!outcome.ok) {
      throw new CredentialVerificationError(
        outcome.code,
        `The new secret was not accepted, so nothing was changed: ${outcome.message}`,
        outcome.httpStatus,
      );
    }
    return { ...unchecked, verified: true };
  }
  try {
    const obtained = await check.obtain(settingsOf(row), newSecrets, {
      outbound: deps.outbound,
      timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
      maxAttempts: maxTokenAttempts,
    });
    const last = obtained.attempts.at(-1);
    return {
      verified: true,
      issued: obtained.secrets,
      expiresAt: obtained.expiresAt,
      attempt: last ? attemptFrom(check.action, last) : null,
    };
  } catch (error) {
    if (!(error instanceof TokenEndpointError)) throw error;
    throw new CredentialProviderError(
      error.code,
      `The new secret was not accepted, so nothing was changed: ${error.message}`,
    );
  }
}
