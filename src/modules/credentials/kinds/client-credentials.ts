// OAuth 2.0 client credentials: a machine-to-machine connection whose access token keyport
// fetches and caches.
import { z } from "zod";
import type { VerificationCode } from "../../catalog/verify.js";
import { requestToken, TokenEndpointError } from "../../oauth/token-client.js";
import { CredentialProviderError } from "../credentials.errors.js";
import { expiryFrom } from "../token-store.js";
import type {
  KindCheck,
  KindCreation,
  ProviderContext,
  SecretEndpoints,
  TokenEndpointAuthMethod,
  TokenGrant,
  ValidationContext,
  Verified,
} from "./common.js";
import {
  clientAuthOf,
  scopeList,
  secretValue,
  shortText,
  tokenEndpointAuthMethods,
  urlSchema,
} from "./common.js";

export const clientCredentialsSettings = z.object({
  clientId: z.string(),
  tokenUrl: z.string(),
  scopes: z.array(z.string()).default([]),
  audience: z.string().nullable().default(null),
  tokenEndpointAuthMethod: z.enum(tokenEndpointAuthMethods).default("CLIENT_SECRET_BASIC"),
});
export type ClientCredentialsSettings = z.infer<typeof clientCredentialsSettings>;

const settingsFields = (context: ValidationContext) => ({
  clientId: shortText(512),
  tokenUrl: urlSchema(context),
  scopes: scopeList.nullish(),
  audience: shortText(512).nullish(),
  tokenEndpointAuthMethod: z.enum(tokenEndpointAuthMethods).nullish(),
});

export const clientCredentialsCreateInput = (context: ValidationContext) =>
  z.object({ ...settingsFields(context), clientSecret: secretValue });

export const clientCredentialsUpdateInput = (context: ValidationContext) =>
  z.object({ ...settingsFields(context), clientSecret: secretValue.nullish() }).partial();

// The client secret goes to the token endpoint; a token from the old one is not kept, and the
// next use fetches one from the new endpoint.
export const clientCredentialsSecretEndpoints: SecretEndpoints<ClientCredentialsSettings> = {
  endpoints: (settings) => ({ tokenUrl: settings.tokenUrl }),
  secrets: ["clientSecret"],
  discard: ["accessToken"],
  afterChange: (settings) => ({ settings, status: "ACTIVE" }),
};

export const clientCredentialsSecretFields = ["clientSecret", "accessToken"] as const;

export function createClientCredentials(
  input: z.infer<ReturnType<typeof clientCredentialsCreateInput>>,
): KindCreation<ClientCredentialsSettings> {
  return {
    settings: {
      clientId: input.clientId,
      tokenUrl: input.tokenUrl,
      scopes: input.scopes ?? [],
      audience: input.audience ?? null,
      tokenEndpointAuthMethod: (input.tokenEndpointAuthMethod ??
        "CLIENT_SECRET_BASIC") as TokenEndpointAuthMethod,
    },
    secrets: { clientSecret: input.clientSecret },
    status: "ACTIVE",
    expiresAt: null,
  };
}

export function clientCredentialsParameters(
  settings: ClientCredentialsSettings,
): Record<string, string> {
  return {
    grant_type: "client_credentials",
    ...(settings.scopes.length > 0 ? { scope: settings.scopes.join(" ") } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
}

/** The client credentials grant (RFC 6749 §4.4): the client credentials are the grant. */
export const clientCredentialsTokenGrant: TokenGrant<ClientCredentialsSettings> = {
  action: "client_credentials",
  accessTokenField: "accessToken",
  secrets: ["clientSecret"],
  canRefresh: () => true,
  async obtain(settings, secrets, context) {
    const { token, attempts } = await requestToken(
      {
        outbound: context.outbound,
        tokenUrl: settings.tokenUrl,
        parameters: clientCredentialsParameters(settings),
        client: clientAuthOf(settings, secrets.clientSecret ?? null),
        timeoutMs: context.timeoutMs,
        maxAttempts: context.maxAttempts,
      },
      context.sleep ? { sleep: context.sleep } : {},
    );
    return {
      secrets: { accessToken: token.accessToken },
      expiresAt: expiryFrom(token),
      attempts,
      updated: ["accessToken", ...(token.expiresIn ? ["expiresAt"] : [])],
    };
  },
  dropOnRevokedGrant: [],
  keepAlive: false,
  sweepWhere: { kind: "CLIENT_CREDENTIALS" },
};

/** Verify on create: a connection that cannot get a token is not saved; the caller gets the
 * classified error. The token it got is kept. */
export async function verifyClientCredentials(
  creation: KindCreation<ClientCredentialsSettings>,
  context: ProviderContext,
): Promise<Verified<ClientCredentialsSettings>> {
  try {
    const token = await clientCredentialsTokenGrant.obtain(
      creation.settings,
      creation.secrets,
      context,
    );
    return {
      creation: {
        ...creation,
        secrets: { ...creation.secrets, ...token.secrets },
        expiresAt: token.expiresAt,
      },
      verified: true,
    };
  } catch (error) {
    if (error instanceof TokenEndpointError)
      throw new CredentialProviderError(error.code, error.message);
    throw error;
  }
}

export const clientCredentialsAuditableSettings = [
  "clientId",
  "tokenUrl",
  "scopes",
  "tokenEndpointAuthMethod",
  "audience",
] as const;

const transientCodes = new Set(["CONNECTION_REFUSED", "PROVIDER_UNAVAILABLE", "RATE_LIMITED"]);

/** The dry call of a stored connection: one token request (the token is not kept). */
export const checkClientCredentials: KindCheck<ClientCredentialsSettings> = async (
  settings,
  secrets,
  context,
) => {
  const started = performance.now();
  try {
    const { attempts } = await requestToken({
      outbound: context.outbound,
      tokenUrl: settings.tokenUrl,
      parameters: clientCredentialsParameters(settings),
      client: clientAuthOf(settings, secrets.clientSecret ?? null),
      timeoutMs: context.timeoutMs,
      maxAttempts: 1,
    });
    return {
      ok: true,
      httpStatus: attempts.at(-1)?.httpStatus ?? 200,
      durationMs: performance.now() - started,
    };
  } catch (error) {
    if (!(error instanceof TokenEndpointError)) throw error;
    return {
      ok: false,
      code: error.code as VerificationCode,
      message: error.message,
      httpStatus: error.httpStatus,
      durationMs: performance.now() - started,
      transient: transientCodes.has(error.code),
    };
  }
};
