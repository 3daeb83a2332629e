// Which dry call verifies a credential of each kind, and how its failures are classified.
import type { ServiceDeps } from "../../context.js";
import {
  sendVerifyRequest,
  type VerificationCode,
  type VerificationOutcome,
} from "../catalog/verify.js";
import { clientCredentialsParameters, endpointsOrProviderError } from "../oauth/refresh.service.js";
import { requestToken, TokenEndpointError } from "../oauth/token-client.js";
import { CredentialProviderError } from "./credentials.errors.js";
import { type BasicSettings, basicAuthMaterial } from "./kinds/basic.js";
import { type BearerSettings, bearerAuthMaterial } from "./kinds/bearer.js";
import type { ClientCredentialsSettings } from "./kinds/client-credentials.js";
import type { CredentialKind } from "./kinds/common.js";
import { settingsOf } from "./kinds/index.js";
import type { OAuth2Settings } from "./kinds/oauth2.js";

type Deps = Pick<ServiceDeps, "catalog" | "outbound" | "config">;

type Row = {
  kind: CredentialKind;
  settings: unknown;
  providerKey: string | null;
  connectionConfig: unknown;
};

export type VerificationCheck = (
  secrets: Readonly<Record<string, string>>,
) => Promise<VerificationOutcome>;

const transient = new Set(["CONNECTION_REFUSED", "PROVIDER_UNAVAILABLE", "RATE_LIMITED"]);

function configOf(row: { connectionConfig: unknown }): Record<string, string> {
  const value = row.connectionConfig;
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (pair): pair is [string, string] => typeof pair[1] === "string",
    ),
  );
}

function failureFrom(
  code: string,
  message: string,
  httpStatus: number | null,
  durationMs: number,
): VerificationOutcome {
  return {
    ok: false,
    code: code as VerificationCode,
    message,
    httpStatus,
    durationMs,
    transient: transient.has(code),
  };
}

/** The dry call for a credential, or null when its kind and provider offer none. */
export function verificationCheck(deps: Deps, row: Row): VerificationCheck | null {
  const entry = deps.catalog.get(row.providerKey);
  const timeoutMs = deps.config.oauth.tokenRequestTimeoutMs;
  const config = configOf(row);
  switch (row.kind) {
    case "BASIC": {
      const request = entry?.verify;
      if (!entry || !request) return null;
      const settings = settingsOf<BasicSettings>(row);
      return (secrets) =>
        sendVerifyRequest(
          deps.outbound,
          entry,
          request,
          config,
          basicAuthMaterial(settings, secrets),
          timeoutMs,
        );
    }
    case "BEARER": {
      const request = entry?.verify;
      if (!entry || !request) return null;
      const settings = settingsOf<BearerSettings>(row);
      return (secrets) =>
        sendVerifyRequest(
          deps.outbound,
          entry,
          request,
          config,
          bearerAuthMaterial(settings, secrets),
          timeoutMs,
        );
    }
    case "CLIENT_CREDENTIALS": {
      const settings = settingsOf<ClientCredentialsSettings>(row);
      return async (secrets) => {
        const started = performance.now();
        try {
          const { attempts } = await requestToken({
            outbound: deps.outbound,
            tokenUrl: settings.tokenUrl,
            parameters: clientCredentialsParameters(settings),
            client: {
              clientId: settings.clientId,
              clientSecret: secrets.clientSecret ?? null,
              method: settings.tokenEndpointAuthMethod,
            },
            timeoutMs,
            maxAttempts: 1,
          });
          const last = attempts.at(-1);
          return {
            ok: true,
            httpStatus: last?.httpStatus ?? 200,
            durationMs: performance.now() - started,
          };
        } catch (error) {
          if (!(error instanceof TokenEndpointError)) throw error;
          return failureFrom(
            error.code,
            error.message,
            error.httpStatus ?? null,
            performance.now() - started,
          );
        }
      };
    }
    case "OAUTH2": {
      const settings = settingsOf<OAuth2Settings>(row);
      const request = entry?.verify;
      if (entry && request) {
        return (secrets) =>
          secrets.accessToken
            ? sendVerifyRequest(
                deps.outbound,
                entry,
                request,
                config,
                {
                  headers: [{ name: "Authorization", value: `Bearer ${secrets.accessToken}` }],
                  queryParameters: [],
                  pathParameters: [],
                },
                timeoutMs,
              )
            : Promise.resolve(
                failureFrom(
                  "INVALID_CREDENTIALS",
                  "The credential has no access token yet.",
                  null,
                  0,
                ),
              );
      }
      if (!settings.issuer) return null;
      return async () => {
        const started = performance.now();
        try {
          await endpointsOrProviderError(deps.outbound, settings, timeoutMs, { fresh: true });
          return { ok: true, httpStatus: 200, durationMs: performance.now() - started };
        } catch (error) {
          if (!(error instanceof CredentialProviderError)) throw error;
          return failureFrom(error.code, error.message, null, performance.now() - started);
        }
      };
    }
  }
}
