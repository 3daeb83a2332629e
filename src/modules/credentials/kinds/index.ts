// The registry of credential kinds: how each one is validated, stored and turned into headers.
import type { z } from "zod";
import {
  basicCreateInput,
  basicSecretEndpoints,
  basicSecretFields,
  basicSettings,
  basicUpdateInput,
  createBasic,
} from "./basic.js";
import {
  bearerCreateInput,
  bearerSecretEndpoints,
  bearerSecretFields,
  bearerSettings,
  bearerUpdateInput,
  checkBearerSettings,
  createBearer,
} from "./bearer.js";
import {
  clientCredentialsCreateInput,
  clientCredentialsSecretEndpoints,
  clientCredentialsSecretFields,
  clientCredentialsSettings,
  clientCredentialsUpdateInput,
  createClientCredentials,
} from "./client-credentials.js";
import type { CredentialKind, KindCreation, SecretEndpoints, ValidationContext } from "./common.js";
import {
  createOAuth2,
  endpointProblem,
  oauth2CreateInput,
  oauth2SecretEndpoints,
  oauth2SecretFields,
  oauth2Settings,
  oauth2UpdateInput,
} from "./oauth2.js";

export type KindDefinition = {
  kind: CredentialKind;
  /** The input field that carries this kind's settings (`basic`, `bearer`, ...). */
  inputKey: "basic" | "bearer" | "oauth2" | "clientCredentials";
  settings: z.ZodType<Record<string, unknown>>;
  createInput(context: ValidationContext): z.ZodType;
  updateInput(context: ValidationContext): z.ZodType<Record<string, unknown>>;
  create(input: unknown): KindCreation<Record<string, unknown>>;
  /** Every secret field this kind stores. Anything else is never accepted. */
  secretFields: readonly string[];
  /** The secret a caller may replace with rotateCredential. */
  rotatableSecret: string;
  /** A problem with settings after an update (rules that span fields). */
  settingsProblem(settings: Record<string, unknown>): { field: string; message: string } | null;
  /** Where its secrets are sent; see SecretEndpoints. */
  secretEndpoints: SecretEndpoints<Record<string, unknown>>;
};

export const kindDefinitions: Record<CredentialKind, KindDefinition> = {
  BASIC: {
    kind: "BASIC",
    inputKey: "basic",
    settings: basicSettings,
    createInput: () => basicCreateInput,
    updateInput: () => basicUpdateInput,
    create: (input) => createBasic(input as z.infer<typeof basicCreateInput>),
    secretFields: basicSecretFields,
    rotatableSecret: "password",
    settingsProblem: () => null,
    secretEndpoints: basicSecretEndpoints as unknown as SecretEndpoints<Record<string, unknown>>,
  },
  BEARER: {
    kind: "BEARER",
    inputKey: "bearer",
    settings: bearerSettings,
    createInput: bearerCreateInput,
    updateInput: bearerUpdateInput,
    create: (input) => createBearer(input as z.infer<ReturnType<typeof bearerCreateInput>>),
    secretFields: bearerSecretFields,
    rotatableSecret: "token",
    settingsProblem: (settings) => {
      const message = checkBearerSettings(settings as z.infer<typeof bearerSettings>);
      return message
        ? { field: "queryParameter", message: "is required when placement is QUERY" }
        : null;
    },
    secretEndpoints: bearerSecretEndpoints as unknown as SecretEndpoints<Record<string, unknown>>,
  },
  OAUTH2: {
    kind: "OAUTH2",
    inputKey: "oauth2",
    settings: oauth2Settings,
    createInput: oauth2CreateInput,
    updateInput: oauth2UpdateInput,
    create: (input) => createOAuth2(input as z.infer<ReturnType<typeof oauth2CreateInput>>),
    secretFields: oauth2SecretFields,
    rotatableSecret: "clientSecret",
    settingsProblem: (settings) => endpointProblem(settings),
    secretEndpoints: oauth2SecretEndpoints as unknown as SecretEndpoints<Record<string, unknown>>,
  },
  CLIENT_CREDENTIALS: {
    kind: "CLIENT_CREDENTIALS",
    inputKey: "clientCredentials",
    settings: clientCredentialsSettings,
    createInput: clientCredentialsCreateInput,
    updateInput: clientCredentialsUpdateInput,
    create: (input) =>
      createClientCredentials(input as z.infer<ReturnType<typeof clientCredentialsCreateInput>>),
    secretFields: clientCredentialsSecretFields,
    rotatableSecret: "clientSecret",
    settingsProblem: () => null,
    secretEndpoints: clientCredentialsSecretEndpoints as unknown as SecretEndpoints<
      Record<string, unknown>
    >,
  },
};

export const kindInputKeys = Object.values(kindDefinitions).map(
  (definition) => definition.inputKey,
);

const parsedSettings = new WeakMap<object, Record<string, unknown>>();

/** The typed settings of a stored credential row (parsed once per row object). */
export function settingsOf<Settings extends Record<string, unknown>>(row: {
  kind: CredentialKind;
  settings: unknown;
}): Settings {
  const cached = parsedSettings.get(row);
  if (cached) return cached as Settings;
  const parsed = kindDefinitions[row.kind].settings.parse(row.settings ?? {});
  parsedSettings.set(row, parsed);
  return parsed as Settings;
}
