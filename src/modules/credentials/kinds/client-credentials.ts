// OAuth 2.0 client credentials: a machine-to-machine connection whose access token keyport
// fetches and caches.
import { z } from "zod";
import type {
  KindCreation,
  SecretEndpoints,
  TokenEndpointAuthMethod,
  ValidationContext,
} from "./common.js";
import {
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
