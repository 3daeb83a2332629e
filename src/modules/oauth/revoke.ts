// Token revocation (RFC 7009) when a credential is deleted. Best effort: a failure is reported
// to the caller's audit entry and never blocks the delete.
import type { Services } from "../../context.js";
import type { CredentialSecret } from "../../generated/prisma/client.js";
import { OutboundRefusedError } from "../../lib/outbound.js";
import { settingsOf } from "../credentials/kinds/index.js";
import type { OAuth2Settings } from "../credentials/kinds/oauth2.js";
import { resolveEndpoints } from "./discovery.js";
import { encodeClientCredentialsForBasic } from "./token-client.js";

type Deps = Pick<Services, "keyRing" | "logger" | "config" | "outbound">;

export type RevocationOutcome = "revoked" | "failed" | "skipped";

export async function revokeOnDelete(
  deps: Deps,
  credential: {
    id: string;
    workspaceId: string;
    kind: string;
    settings: unknown;
    secrets: CredentialSecret[];
  },
): Promise<RevocationOutcome> {
  if (credential.kind !== "OAUTH2") return "skipped";
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
  try {
    const settings = settingsOf<OAuth2Settings>(
      credential as { kind: "OAUTH2"; settings: unknown },
    );
    const endpoints = await resolveEndpoints(
      deps.outbound,
      settings,
      deps.config.oauth.tokenRequestTimeoutMs,
    );
    const refreshToken = await decrypt("refreshToken");
    const token = refreshToken ?? (await decrypt("accessToken"));
    if (!endpoints.revocationUrl || !token) return "skipped";
    const clientSecret = await decrypt("clientSecret");
    const body = new URLSearchParams({
      token,
      token_type_hint: refreshToken ? "refresh_token" : "access_token",
    });
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (clientSecret && settings.tokenEndpointAuthMethod === "CLIENT_SECRET_BASIC") {
      headers.authorization = encodeClientCredentialsForBasic(settings.clientId, clientSecret);
    } else {
      body.set("client_id", settings.clientId);
      if (clientSecret) body.set("client_secret", clientSecret);
    }
    const response = await deps.outbound.fetch(endpoints.revocationUrl, {
      method: "POST",
      headers,
      body,
      timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
    });
    await response.body?.cancel().catch(() => undefined);
    if (response.ok) return "revoked";
    deps.logger.warn("token revocation refused", {
      credentialId: credential.id,
      httpStatus: response.status,
    });
    return "failed";
  } catch (error) {
    if (error instanceof OutboundRefusedError) {
      // The refusal names the host and the rule, never the path or the token.
      deps.logger.warn("token revocation refused by the outbound policy", {
        credentialId: credential.id,
        reason: error.message,
      });
      return "failed";
    }
    // The fetch error may describe the request; log only that it failed.
    deps.logger.warn("token revocation failed", { credentialId: credential.id });
    return "failed";
  }
}
