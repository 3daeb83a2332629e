// Token revocation when a credential is deleted (or its endpoint changes), through the kind's
// own revocation. Best effort: a failure is reported to the caller's audit entry and never blocks
// the delete.
import type { Services } from "../../context.js";
import type { CredentialSecret } from "../../generated/prisma/client.js";
import type { CredentialKind } from "./kinds/common.js";
import { kindDefinitions, settingsOf } from "./kinds/index.js";
import type { RevocationOutcome } from "./kinds/oauth2.js";

type Deps = Pick<Services, "keyRing" | "logger" | "config" | "outbound">;

export type { RevocationOutcome };

export async function revokeOnDelete(
  deps: Deps,
  credential: {
    id: string;
    workspaceId: string;
    kind: CredentialKind;
    settings: unknown;
    secrets: CredentialSecret[];
  },
): Promise<RevocationOutcome> {
  const revoke = kindDefinitions[credential.kind].revoke;
  if (!revoke) return "skipped";
  const decrypt = (field: string) => {
    const row = credential.secrets.find(
      (secret) => secret.field === field && secret.retainUntil === null,
    );
    return row
      ? deps.keyRing.decrypt(row.ciphertext, {
          workspaceId: credential.workspaceId,
          credentialId: credential.id,
          field,
        })
      : Promise.resolve(null);
  };
  let settings: Record<string, unknown>;
  try {
    settings = settingsOf(credential);
  } catch {
    deps.logger.warn("token revocation failed", { credentialId: credential.id });
    return "failed";
  }
  return revoke(settings, decrypt, {
    outbound: deps.outbound,
    timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
    maxAttempts: 1,
    logger: deps.logger,
    credentialId: credential.id,
  });
}
