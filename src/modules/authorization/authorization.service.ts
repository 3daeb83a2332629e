// The authorization-code flow with PKCE: starting it (state, verifier, URL), and completing it
// from the callback or the completeAuthorization mutation.
import { createHash, randomBytes } from "node:crypto";
import { z } from "zod";
import type { Caller as ContextCaller, ServiceDeps } from "../../context.js";
import { NotFoundError } from "../../lib/errors.js";
import { uuidv7 } from "../../lib/ids.js";
import { fieldError } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import { CredentialProviderError } from "../credentials/credentials.errors.js";
import { credentialScope } from "../credentials/credentials.service.js";
import { withCredentialEvents } from "../credentials/history.js";
import { scopeList, urlSchema, type ValidationContext } from "../credentials/kinds/common.js";
import { kindDefinitions, settingsOf } from "../credentials/kinds/index.js";
import { endpointsOrProviderError, type OAuth2Settings } from "../credentials/kinds/oauth2.js";
import { encryptSecretRows, upsertSecretRows } from "../credentials/secret-rows.js";
import { attemptFrom, expiryFrom } from "../credentials/token-store.js";
import { sameEndpoints } from "../oauth/discovery.js";
import { IdTokenError, verifiedIdTokenSubject } from "../oauth/id-token.js";
import {
  grantedScopesOf,
  insufficientScopesMessage,
  missingScopesOf,
  scopeSpellingFor,
} from "../oauth/scopes.js";
import {
  requestToken,
  type TokenAttempt,
  TokenEndpointError,
  type TokenResponse,
} from "../oauth/token-client.js";

type Deps = Omit<ServiceDeps, "refresher">;
type Caller = Pick<ContextCaller, "workspaceId" | "environmentId" | "actor" | "connect">;

export const stateLifetimeMs = 10 * 60_000;

const base64url = (bytes: Buffer) => bytes.toString("base64url");
export const hashState = (state: string) => createHash("sha256").update(state).digest("hex");
export const pkceChallenge = (verifier: string) =>
  base64url(createHash("sha256").update(verifier).digest());

const startInput = (context: ValidationContext) =>
  z.object({
    redirectUri: urlSchema(context).nullish(),
    scopes: scopeList.nullish(),
    addScopes: scopeList.nullish(),
    openerOrigin: z.string().max(2048).nullish(),
  });

/** The opener's origin exactly as ALLOWED_ORIGINS lists it, or null when it is not allowed. */
export function allowedOpenerOrigin(allowed: readonly string[], origin: string): string | null {
  if (!URL.canParse(origin)) return null;
  const normalized = new URL(origin).origin;
  return origin.replace(/\/$/, "") === normalized && allowed.includes(normalized)
    ? normalized
    : null;
}

export type StartedAuthorization = { authorizationUrl: string; state: string; expiresAt: Date };

export async function startAuthorization(
  deps: Deps,
  caller: Caller,
  credentialId: string,
  input: {
    redirectUri?: string | null;
    scopes?: string[] | null;
    addScopes?: string[] | null;
    openerOrigin?: string | null;
  },
  reauthorize: boolean,
): Promise<StartedAuthorization> {
  const parsed = startInput({
    production: deps.config.production,
    outbound: deps.outbound,
  }).safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw fieldError(issue?.path.map(String) ?? [], issue?.message ?? "is not valid");
  }
  const openerOrigin = parsed.data.openerOrigin
    ? allowedOpenerOrigin(deps.config.http.allowedOrigins, parsed.data.openerOrigin)
    : null;
  if (parsed.data.openerOrigin && !openerOrigin) {
    throw fieldError(["openerOrigin"], "is not one of the allowed origins (ALLOWED_ORIGINS)");
  }
  const credential = await deps.prisma.credential.findFirst({
    where: { id: credentialId, ...credentialScope(caller) },
  });
  if (!credential) throw new NotFoundError("Credential");
  if (!kindDefinitions[credential.kind].authorizable) {
    throw fieldError(["id"], "is not an OAuth2 credential");
  }
  const settings = settingsOf<OAuth2Settings>(credential);
  const began = Date.now();
  const endpoints = await endpointsOrProviderError(
    deps.outbound,
    settings,
    deps.config.oauth.tokenRequestTimeoutMs,
  );
  if (!endpoints.authorizationUrl || !endpoints.tokenUrl) {
    throw new CredentialProviderError(
      "AUTHORIZATION_FAILED",
      "The provider's authorization or token endpoint is unknown.",
    );
  }
  const requested = reauthorize
    ? [...new Set([...settings.scopes, ...(parsed.data.addScopes ?? [])])]
    : (parsed.data.scopes ?? settings.scopes);
  const redirectUri = parsed.data.redirectUri ?? `${deps.config.publicUrl}/oauth/callback`;
  // 256 bits of state and a 32-byte PKCE verifier, both from the CSPRNG.
  const state = base64url(randomBytes(32));
  const verifier = settings.usePkce ? base64url(randomBytes(32)) : null;
  const nonce = requested.includes("openid") ? base64url(randomBytes(16)) : null;
  const id = uuidv7();

  const url = new URL(endpoints.authorizationUrl);
  for (const [name, value] of Object.entries(settings.extraAuthorizationParams))
    url.searchParams.set(name, value);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", settings.clientId);
  url.searchParams.set("redirect_uri", redirectUri);
  if (requested.length > 0) {
    url.searchParams.set("scope", requested.join(settings.providerScopes?.separator ?? " "));
  }
  url.searchParams.set("state", state);
  if (verifier) {
    url.searchParams.set("code_challenge", pkceChallenge(verifier));
    url.searchParams.set("code_challenge_method", "S256");
  }
  if (nonce) url.searchParams.set("nonce", nonce);
  // OpenID providers grant offline_access (a refresh token) only with prompt=consent (OpenID
  // Connect Core §11); a prompt the credential configures itself is left as it is.
  if (requested.includes("offline_access") && !("prompt" in settings.extraAuthorizationParams)) {
    url.searchParams.set("prompt", "consent");
  }
  if (settings.audience) url.searchParams.set("audience", settings.audience);

  const expiresAt = new Date(Date.now() + stateLifetimeMs);
  const codeVerifier = verifier
    ? await deps.keyRing.encrypt(verifier, {
        workspaceId: credential.workspaceId,
        credentialId: credential.id,
        field: `pkce:${id}`,
      })
    : null;
  await withCredentialEvents(deps, async (tx, record) => {
    if (endpoints.discovered && !sameEndpoints(settings.discovered, endpoints.discovered)) {
      // Shown on the credential, and used while the issuer's metadata cannot be read.
      await tx.credential.update({
        where: { id: credential.id },
        data: { settings: { ...settings, discovered: endpoints.discovered } },
      });
    }
    await tx.oAuthAuthorization.create({
      data: {
        id,
        stateHash: hashState(state),
        workspaceId: credential.workspaceId,
        credentialId: credential.id,
        redirectUri,
        scopes: requested,
        codeVerifier,
        nonce,
        expectedIssuer: endpoints.issuer,
        reauthorize,
        openerOrigin,
        expiresAt,
      },
    });
    await record({
      workspaceId: credential.workspaceId,
      credentialId: credential.id,
      type: "AUTHORIZATION_STARTED",
      status: credential.status,
      attempt: {
        action: "authorize",
        outcome: "success",
        durationMs: Date.now() - began,
        httpStatus: null,
        errorCode: null,
      },
    });
  });
  return { authorizationUrl: url.toString(), state, expiresAt };
}

export type CallbackParameters = {
  state?: string | null;
  code?: string | null;
  iss?: string | null;
  error?: string | null;
};

/** The outcome of a callback; `credentialId` is the global-id-free row id, null for unknown states. */
export type CompletedAuthorization = { credentialId: string; workspaceId: string };

/**
 * Completes an authorization. Unknown, replayed or expired states and a mismatching `iss` are
 * rejected before any token request. `workspaceId` limits the state to the caller's workspace.
 */
export async function completeAuthorization(
  deps: Deps,
  parameters: CallbackParameters,
  /**
   * A caller's workspace and, for a key limited to one environment, that environment: a state
   * started for a credential outside them answers exactly like an unknown state (nothing is
   * claimed, no token request). The callback route passes neither.
   */
  options: {
    workspaceId?: string;
    environmentId?: string | null;
    /** A connect session: only states of its own end user's credentials (and providers). */
    connect?: ContextCaller["connect"];
    actor: string;
  },
): Promise<CompletedAuthorization> {
  const invalidState = () =>
    new CredentialProviderError(
      "AUTHORIZATION_FAILED",
      "Unknown, used or expired authorization state.",
    );
  if (!parameters.state || parameters.state.length > 200) throw invalidState();
  const authorization = await deps.prisma.oAuthAuthorization.findUnique({
    where: { stateHash: hashState(parameters.state) },
    include: {
      credential: { select: { environmentId: true, externalUserId: true, providerKey: true } },
    },
  });
  const connect = options.connect;
  if (
    !authorization ||
    (connect &&
      (authorization.credential.externalUserId !== connect.externalUserId ||
        (connect.providerKeys.length > 0 &&
          !connect.providerKeys.includes(authorization.credential.providerKey ?? "")))) ||
    (options.workspaceId && authorization.workspaceId !== options.workspaceId) ||
    (options.environmentId && authorization.credential.environmentId !== options.environmentId)
  ) {
    throw invalidState();
  }
  // Single use, claimed atomically before anything else happens.
  const { count } = await deps.prisma.oAuthAuthorization.updateMany({
    where: { id: authorization.id, usedAt: null, expiresAt: { gt: new Date() } },
    data: { usedAt: new Date() },
  });
  if (count !== 1) throw invalidState();
  const credential = await deps.prisma.credential.findUnique({
    where: { id: authorization.credentialId },
  });
  if (!credential) throw invalidState();
  const settings = settingsOf<OAuth2Settings>(credential);
  const endpoints = await endpointsOrProviderError(
    deps.outbound,
    settings,
    deps.config.oauth.tokenRequestTimeoutMs,
  );
  const ids = { workspaceId: credential.workspaceId, credentialId: credential.id };

  const fail = async (code: string, message: string, attempt: TokenAttempt | null) => {
    await withCredentialEvents(deps, async (tx, record) => {
      // A failed (re)authorization leaves a working credential as it is.
      if (credential.status === "PENDING_AUTHORIZATION") {
        await tx.credential.update({
          where: { id: credential.id },
          data: { statusReasonCode: code, statusReasonMessage: message },
        });
      }
      await record({
        ...ids,
        type: "AUTHORIZATION_FAILED",
        status: credential.status,
        reason: { code, message },
        attempt: attempt
          ? attemptFrom("exchange", attempt)
          : {
              action: "authorize",
              outcome: "failure",
              durationMs: 0,
              httpStatus: null,
              errorCode: code,
            },
      });
    });
    return new CredentialProviderError(code, message);
  };

  // RFC 9207 mix-up defence.
  if (authorization.expectedIssuer) {
    const expected = authorization.expectedIssuer.replace(/\/+$/, "");
    if (parameters.iss && parameters.iss.replace(/\/+$/, "") !== expected) {
      throw await fail(
        "AUTHORIZATION_FAILED",
        "The authorization response came from another issuer.",
        null,
      );
    }
    if (!parameters.iss && endpoints.issParameterSupported) {
      throw await fail(
        "AUTHORIZATION_FAILED",
        "The authorization response lacks the issuer it must carry.",
        null,
      );
    }
  }
  if (parameters.error) {
    const error = /^[a-z_]{1,64}$/.test(parameters.error) ? parameters.error : "unknown_error";
    if (error === "access_denied") {
      // The user said no: not a failure of the provider or of the configuration.
      throw await fail(
        "AUTHORIZATION_DENIED",
        "The authorization was refused at the provider (access_denied).",
        null,
      );
    }
    const code = error === "invalid_scope" ? "INSUFFICIENT_SCOPES" : "AUTHORIZATION_FAILED";
    throw await fail(code, `The provider refused the authorization (${error}).`, null);
  }
  if (!parameters.code || parameters.code.length > 4096) {
    throw await fail("AUTHORIZATION_FAILED", "The authorization response carries no code.", null);
  }
  if (!endpoints.tokenUrl)
    throw await fail("AUTHORIZATION_FAILED", "The provider's token endpoint is unknown.", null);

  const clientSecretRow = await deps.prisma.credentialSecret.findUnique({
    where: { credentialId_field: { credentialId: credential.id, field: "clientSecret" } },
  });
  const clientSecret = clientSecretRow
    ? await deps.keyRing.decrypt(clientSecretRow.ciphertext, { ...ids, field: "clientSecret" })
    : null;
  const verifier = authorization.codeVerifier
    ? await deps.keyRing.decrypt(authorization.codeVerifier, {
        ...ids,
        field: `pkce:${authorization.id}`,
      })
    : null;

  let token: TokenResponse;
  let attempts: TokenAttempt[];
  try {
    ({ token, attempts } = await requestToken({
      outbound: deps.outbound,
      tokenUrl: endpoints.tokenUrl,
      parameters: {
        grant_type: "authorization_code",
        code: parameters.code,
        // Byte-identical to the one sent in the authorization request.
        redirect_uri: authorization.redirectUri,
        ...(verifier ? { code_verifier: verifier } : {}),
      },
      client: {
        clientId: settings.clientId,
        clientSecret,
        method: settings.tokenEndpointAuthMethod,
      },
      timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
      // A code is single-use: a retry after an unclear failure could only be refused.
      maxAttempts: 1,
    }));
  } catch (error) {
    if (!(error instanceof TokenEndpointError)) throw error;
    throw await fail(error.code, error.message, error.attempts.at(-1) ?? null);
  }
  const exchange = attempts.at(-1) ?? null;

  let accountId: string | null = null;
  if (token.idToken) {
    try {
      accountId = await verifiedIdTokenSubject(token.idToken, {
        issuer: authorization.expectedIssuer,
        jwksUri: endpoints.jwksUri,
        clientId: settings.clientId,
        nonce: authorization.nonce,
        timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
        outbound: deps.outbound,
      });
    } catch (error) {
      if (!(error instanceof IdTokenError)) throw error;
      throw await fail(
        "AUTHORIZATION_FAILED",
        `The id_token could not be verified: ${error.message}.`,
        exchange,
      );
    }
  }

  // Fewer scopes than requested still leave a working token: it is kept, and the credential is
  // DEGRADED until a re-authorization grants the rest.
  const granted = grantedScopesOf(token.scope, authorization.scopes, settings.providerScopes);
  const kept = tokenResponseFieldsOf(settings.tokenResponseFields, token.extra);
  accountId ??= kept.accountId;
  const missing = missingScopesOf(
    authorization.scopes,
    granted,
    scopeSpellingFor(credential.providerKey, settings.providerScopes),
  );
  if (
    authorization.reauthorize &&
    settings.accountId &&
    accountId &&
    accountId !== settings.accountId
  ) {
    throw await fail(
      "ACCOUNT_MISMATCH",
      "The authorization came back for a different account; the previous tokens are kept.",
      exchange,
    );
  }

  const rows = await encryptSecretRows(deps.keyRing, ids, {
    accessToken: token.accessToken,
    ...(token.refreshToken ? { refreshToken: token.refreshToken } : {}),
  });
  const nextSettings: OAuth2Settings = {
    ...settings,
    scopes: authorization.reauthorize ? authorization.scopes : settings.scopes,
    grantedScopes: granted,
    missingScopes: missing,
    accountId: accountId ?? settings.accountId,
    providerData: { ...settings.providerData, ...kept.data },
  };
  const status = missing.length > 0 ? "DEGRADED" : "ACTIVE";
  const reason =
    missing.length > 0
      ? { code: "INSUFFICIENT_SCOPES", message: insufficientScopesMessage(missing) }
      : null;
  await withCredentialEvents(deps, async (tx, record) => {
    await tx.credential.update({
      where: { id: credential.id },
      data: {
        // Bumping the version fences out any refresh still holding the previous grant's token.
        version: { increment: 1 },
        settings: nextSettings,
        status,
        statusReasonCode: reason?.code ?? null,
        statusReasonMessage: reason?.message ?? null,
        expiresAt: expiryFrom(token),
        lastVerifiedAt: new Date(),
      },
    });
    await upsertSecretRows(tx, credential.id, rows);
    await record({
      ...ids,
      type: credential.status === "INVALID" ? "RESTORED" : "AUTHORIZED",
      status,
      reason,
      attempt: exchange ? attemptFrom("exchange", exchange) : null,
    });
    await recordAudit(tx, {
      workspaceId: credential.workspaceId,
      actor: options.actor,
      action: authorization.reauthorize ? "credential.reauthorize" : "credential.authorize",
      objectType: "Credential",
      objectId: credential.id,
      metadata: { grantedScopes: granted, missingScopes: missing },
    });
  });
  return ids;
}

/** The token-response fields a catalog provider keeps, and the account id it names. */
function tokenResponseFieldsOf(
  rules: { keep: string[]; accountId: string | null } | null,
  extra: Record<string, unknown>,
): { data: Record<string, string | number | boolean>; accountId: string | null } {
  if (!rules) return { data: {}, accountId: null };
  const read = (path: string) =>
    path
      .split(".")
      .reduce<unknown>(
        (value, part) =>
          value && typeof value === "object" ? (value as Record<string, unknown>)[part] : undefined,
        extra,
      );
  const data: Record<string, string | number | boolean> = {};
  for (const path of rules.keep) {
    const value = read(path);
    // Only plain values: a nested object could carry more than the entry asked for.
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      data[path] = value;
    }
  }
  const id = rules.accountId ? read(rules.accountId) : undefined;
  return {
    data,
    accountId: typeof id === "string" || typeof id === "number" ? String(id) : null,
  };
}
