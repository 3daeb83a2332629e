// Checking a new secret with its provider before a rotation swaps it in. Everything a rotation
// needs to know about verification goes through verifyRotatedSecret; kinds without a verify
// request yet pass unchecked.
import type { ServiceDeps } from "../../context.js";
import type { Credential } from "../../generated/prisma/client.js";
import type { Attempt } from "../oauth/history.js";
import {
  attemptFrom,
  clientCredentialsParameters,
  expiryFrom,
  maxTokenAttempts,
} from "../oauth/refresh.service.js";
import { requestToken, TokenEndpointError } from "../oauth/token-client.js";
import { CredentialProviderError } from "./credentials.errors.js";
import type { ClientCredentialsSettings } from "./kinds/client-credentials.js";
import { settingsOf } from "./kinds/index.js";

export type RotationVerification = {
  /** The provider was asked and accepted the new secret (false: nothing to ask yet). */
  verified: boolean;
  /** A token the provider issued for the new secret (client credentials), kept with it. */
  accessToken: { value: string; expiresAt: Date | null } | null;
  /** The request that verified it, for the credential's history. */
  attempt: Attempt | null;
};

const unchecked: RotationVerification = { verified: false, accessToken: null, attempt: null };

/**
 * Asks the provider whether `newSecrets` (the credential's rotatable secret, by field) work.
 * Client credentials: a token request with the new client secret through the token client; a
 * refusal (401, invalid_client) or an unreachable endpoint throws CredentialProviderError with
 * the classified code, and the rotation changes nothing. Other kinds have no verify request yet
 * and pass unchecked.
 */
export async function verifyRotatedSecret(
  deps: Pick<ServiceDeps, "outbound" | "config">,
  row: Pick<Credential, "kind" | "settings">,
  newSecrets: Record<string, string>,
): Promise<RotationVerification> {
  if (row.kind !== "CLIENT_CREDENTIALS") return unchecked;
  const settings = settingsOf<ClientCredentialsSettings>(row);
  try {
    const { token, attempts } = await requestToken({
      outbound: deps.outbound,
      tokenUrl: settings.tokenUrl,
      parameters: clientCredentialsParameters(settings),
      client: {
        clientId: settings.clientId,
        clientSecret: newSecrets.clientSecret ?? null,
        method: settings.tokenEndpointAuthMethod,
      },
      timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
      maxAttempts: maxTokenAttempts,
    });
    const last = attempts.at(-1);
    return {
      verified: true,
      accessToken: { value: token.accessToken, expiresAt: expiryFrom(token) },
      attempt: last ? attemptFrom("client_credentials", last) : null,
    };
  } catch (error) {
    if (!(error instanceof TokenEndpointError)) throw error;
    throw new CredentialProviderError(
      error.code,
      `The new secret was not accepted, so nothing was changed: ${error.message}`,
    );
  }
}
