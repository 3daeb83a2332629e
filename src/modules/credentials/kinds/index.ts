// The registry of credential kinds: everything a kind does (validation, secrets, auth material,
// auditable settings, obtaining tokens, verification, revocation). Services dispatch through it
// and never branch on the kind themselves.
import type { z } from "zod";
import type { ProviderEntry } from "../../catalog/catalog.js";
import { CredentialVerificationError } from "../credentials.errors.js";
import {
  type BasicSettings,
  basicAuditableSettings,
  basicAuthMaterial,
  basicCreateInput,
  basicSecretEndpoints,
  basicSecretFields,
  basicSendProblems,
  basicSettings,
  basicUpdateInput,
  checkBasic,
  createBasic,
} from "./basic.js";
import {
  type BearerSettings,
  bearerAuditableSettings,
  bearerAuthMaterial,
  bearerCreateInput,
  bearerSecretEndpoints,
  bearerSecretFields,
  bearerSettings,
  bearerTokenGrant,
  bearerUpdateInput,
  checkBearer,
  checkBearerSettings,
  createBearer,
  splitTemplate,
  templateSecretPrefix,
} from "./bearer.js";
import {
  type ClientCredentialsSettings,
  checkClientCredentials,
  clientCredentialsAuditableSettings,
  clientCredentialsCreateInput,
  clientCredentialsSecretEndpoints,
  clientCredentialsSecretFields,
  clientCredentialsSettings,
  clientCredentialsTokenGrant,
  clientCredentialsUpdateInput,
  createClientCredentials,
  verifyClientCredentials,
} from "./client-credentials.js";
import {
  type AuthMaterial,
  bearerAccessToken,
  type CheckContext,
  type CredentialKind,
  type KindCheck,
  type KindCreation,
  type ProviderContext,
  type SecretEndpoints,
  type TokenGrant,
  type ValidationContext,
  type Verified,
} from "./common.js";
import {
  checkOAuth2,
  createOAuth2,
  endpointProblem,
  type OAuth2Settings,
  oauth2AuditableSettings,
  oauth2CreateInput,
  oauth2ProviderSettings,
  oauth2SecretEndpoints,
  oauth2SecretFields,
  oauth2Settings,
  oauth2TokenGrant,
  oauth2UpdateInput,
  type RevocationOutcome,
  revokeOAuth2,
  verifyOAuth2,
} from "./oauth2.js";

type AnySettings = Record<string, unknown>;

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
  /** Settings that may appear in audit entries; anything else is redacted. */
  auditableSettings: readonly string[];
  /** The stored secrets a request needs (decrypted when auth material is handed out). */
  authSecrets: readonly string[];
  /** The auth material a request carries; null when there is no token yet. */
  authMaterial(settings: AnySettings, secrets: Record<string, string>): AuthMaterial | null;
  /** Whether the credential's `expiresAt` limits its use (a password does not expire). */
  expires: boolean;
  /** Why stored values could not be sent as they are (rules beyond the header checks). */
  sendProblems(settings: AnySettings, secrets: Record<string, string>): string[];
  /** `expiresAt` is part of the kind's input (a static token with a known end). */
  expiresAtInInput: boolean;
  /** How it obtains a new token without the user, if it can. */
  tokenGrant: TokenGrant<AnySettings> | null;
  /** rotateCredential without a new secret obtains a new token. */
  rotateRefreshes: boolean;
  /** Users authorize it in the browser (the authorization-code flow). */
  authorizable: boolean;
  /** The check made before a new credential is stored (with `verify`, the default). */
  verify:
    | ((
        creation: KindCreation<AnySettings>,
        context: ProviderContext,
      ) => Promise<Verified<AnySettings>>)
    | null;
  /**
   * The token request that checks a new rotatable secret before rotateCredential swaps it in
   * (client credentials: its own grant, with the new secret; the token it returns is kept, and
   * dropped again by a rollback). null: no check yet, the new secret is swapped in unchecked.
   */
  rotationCheck: TokenGrant<AnySettings> | null;
  /** The provider's dry call for stored or candidate secrets (testCredential, the idle re-check,
   * rotation); null when there is nothing to call. */
  check: KindCheck<AnySettings>;
  /** Whether `check` has a call to make for this credential (a catalog verify request for its
   * provider, a token endpoint, an issuer); false: testCredential answers not verifiable. */
  hasCheck(settings: AnySettings, context: CheckContext): boolean;
  /** A check's verdict decides the status: a rejection (401) makes it INVALID and a later pass
   * restores it (static secrets; an authorized credential's tokens decide its status instead).
   * These are also the kinds the idle re-check visits. */
  checkDecidesStatus: boolean;
  /** Settings a provider's catalog entry adds to what the kind creates ({} when none). */
  providerSettings(entry: ProviderEntry): AnySettings;
  /** It cannot be checked while PENDING_AUTHORIZATION (there is no token yet). */
  checkNeedsAuthorization: boolean;
  /** Its verify request carries its access token, so the token is refreshed first when due. */
  refreshBeforeCheck: boolean;
  /** Settings that hold secrets of their own (a template's headers and body): when an update
   * changes them, splits them into what settings keep and secret rows (fields starting with
   * `settingsSecretPrefix`, all replaced). Null when the update leaves them alone. */
  splitSettingsSecrets:
    | ((
        settings: AnySettings,
        changes: AnySettings,
      ) => { settings: AnySettings; secrets: Record<string, string> } | null)
    | null;
  settingsSecretPrefix: string | null;
  /** Revokes its tokens at the provider when it is deleted (best effort). */
  revoke:
    | ((
        settings: AnySettings,
        decrypt: (field: string) => Promise<string | null>,
        context: Parameters<typeof revokeOAuth2>[2],
      ) => Promise<RevocationOutcome>)
    | null;
};

const noSendProblems = () => [];

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
    auditableSettings: basicAuditableSettings,
    authSecrets: ["password"],
    authMaterial: (settings, secrets) => basicAuthMaterial(settings as BasicSettings, secrets),
    expires: false,
    sendProblems: (settings, secrets) => basicSendProblems(settings as BasicSettings, secrets),
    expiresAtInInput: false,
    tokenGrant: null,
    rotateRefreshes: false,
    authorizable: false,
    ...staticKindChecks(checkBasic as KindCheck<AnySettings>),
    rotationCheck: null,
    splitSettingsSecrets: null,
    settingsSecretPrefix: null,
    revoke: null,
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
    auditableSettings: bearerAuditableSettings,
    authSecrets: ["token"],
    authMaterial: (settings, secrets) => bearerAuthMaterial(settings as BearerSettings, secrets),
    expires: true,
    sendProblems: noSendProblems,
    expiresAtInInput: true,
    tokenGrant: bearerTokenGrant as unknown as TokenGrant<AnySettings>,
    rotateRefreshes: false,
    authorizable: false,
    ...staticKindChecks(checkBearer as KindCheck<AnySettings>),
    rotationCheck: null,
    splitSettingsSecrets: (settings, changes) => {
      if (changes.refreshRequest === undefined) return null;
      const split = splitTemplate((settings as BearerSettings).refreshRequest);
      return { settings: { ...settings, refreshRequest: split.stored }, secrets: split.secrets };
    },
    settingsSecretPrefix: templateSecretPrefix,
    revoke: null,
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
    auditableSettings: oauth2AuditableSettings,
    authSecrets: ["accessToken"],
    authMaterial: (_settings, secrets) => bearerAccessToken(secrets),
    expires: true,
    sendProblems: noSendProblems,
    expiresAtInInput: false,
    tokenGrant: oauth2TokenGrant as unknown as TokenGrant<AnySettings>,
    rotateRefreshes: true,
    authorizable: true,
    verify: (creation, context) =>
      verifyOAuth2(creation as KindCreation<OAuth2Settings>, context) as Promise<
        Verified<AnySettings>
      >,
    check: checkOAuth2 as KindCheck<AnySettings>,
    providerSettings: oauth2ProviderSettings,
    hasCheck: (settings, context) =>
      Boolean(context.provider?.entry.verify) || Boolean((settings as OAuth2Settings).issuer),
    checkDecidesStatus: false,
    checkNeedsAuthorization: true,
    refreshBeforeCheck: true,
    rotationCheck: null,
    splitSettingsSecrets: null,
    settingsSecretPrefix: null,
    revoke: (settings, decrypt, context) =>
      revokeOAuth2(settings as OAuth2Settings, decrypt, context),
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
    auditableSettings: clientCredentialsAuditableSettings,
    authSecrets: ["accessToken"],
    authMaterial: (_settings, secrets) => bearerAccessToken(secrets),
    expires: true,
    sendProblems: noSendProblems,
    expiresAtInInput: false,
    tokenGrant: clientCredentialsTokenGrant as unknown as TokenGrant<AnySettings>,
    rotateRefreshes: true,
    authorizable: false,
    verify: (creation, context) =>
      verifyClientCredentials(
        creation as KindCreation<ClientCredentialsSettings>,
        context,
      ) as Promise<Verified<AnySettings>>,
    check: checkClientCredentials as KindCheck<AnySettings>,
    providerSettings: () => ({}),
    hasCheck: () => true,
    checkDecidesStatus: false,
    checkNeedsAuthorization: true,
    refreshBeforeCheck: false,
    rotationCheck: clientCredentialsTokenGrant as unknown as TokenGrant<AnySettings>,
    splitSettingsSecrets: null,
    settingsSecretPrefix: null,
    revoke: null,
  },
};

/**
 * How a static kind (BASIC, BEARER) is checked: only through its provider's verify request, whose
 * answer decides the credential's status; nothing to authorize or refresh first.
 */
function staticKindChecks(check: KindCheck<AnySettings>) {
  return {
    verify: (creation: KindCreation<AnySettings>, context: ProviderContext) =>
      verifyStatic(creation, context, check),
    check,
    providerSettings: () => ({}),
    hasCheck: (_settings: AnySettings, context: CheckContext) =>
      Boolean(context.provider?.entry.verify),
    checkDecidesStatus: true,
    checkNeedsAuthorization: false,
    refreshBeforeCheck: false,
  } satisfies Partial<KindDefinition>;
}

/**
 * Verify on create for static kinds: the provider's verify request, when the catalog has one.
 * A failure throws the classified error and nothing is stored.
 */
async function verifyStatic(
  creation: KindCreation<AnySettings>,
  context: ProviderContext,
  check: KindCheck<AnySettings>,
): Promise<Verified<AnySettings>> {
  const checkContext: CheckContext = {
    outbound: context.outbound,
    timeoutMs: context.timeoutMs,
    provider: context.provider ?? null,
  };
  const outcome = await check(creation.settings, creation.secrets, checkContext);
  if (!outcome) return { creation, verified: false };
  if (!outcome.ok) {
    throw new CredentialVerificationError(outcome.code, outcome.message, outcome.httpStatus);
  }
  return { creation, verified: true };
}

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
