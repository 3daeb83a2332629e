// OpenID Connect as providers document it: offline_access with prompt=consent against
// oidc-provider in its default configuration, endpoints entered directly (no issuer), refresh
// with the provider's own rotation policy; and scopes granted in another spelling or not at all.
import { generateKeyPairSync, type KeyObject, randomBytes } from "node:crypto";
import { type JWTPayload, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CredentialQuery,
  RotateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";
import { type DefaultOidcServer, startDefaultOidcServer } from "../helpers/default-oidc-server.js";
import { startTokenStub, type TokenStub, tokenReply } from "../helpers/token-stub.js";

const OidcAuthorizeMutation = graphql(`
  mutation OidcAuthorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
        state
      }
      ... on Error {
        message
      }
    }
  }
`);

const OidcReauthorizeMutation = graphql(`
  mutation OidcReauthorize($input: ReauthorizeCredentialInput!) {
    reauthorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
        state
      }
      ... on Error {
        message
      }
    }
  }
`);

const OidcCompleteMutation = graphql(`
  mutation OidcComplete($input: CompleteAuthorizationInput!) {
    completeAuthorization(input: $input) {
      __typename
      ... on CompleteAuthorizationSuccess {
        credentialId
      }
      ... on CredentialProviderError {
        code
        message
      }
      ... on Error {
        message
      }
    }
  }
`);

const OidcHistoryQuery = graphql(`
  query OidcHistory($id: ID!) {
    credential(id: $id) {
      ... on CredentialBase {
        history(first: 20) {
          edges {
            node {
              type
              status
              reason {
                code
              }
            }
          }
        }
      }
    }
  }
`);

const publicUrl = "http://keyport.test";
const callbackUrl = `${publicUrl}/oauth/callback`;
const clientId = "keyport-client";
const clientSecret = "s3cr:t+with%odd/chars=";
const googleEmail = "https://www.googleapis.com/auth/userinfo.email";
const drive = "https://www.googleapis.com/auth/drive.readonly";
const calendar = "https://www.googleapis.com/auth/calendar.readonly";

let oidc: DefaultOidcServer;
let stub: TokenStub;
let app: TestApp;
let user: string;

beforeAll(async () => {
  [oidc, stub, app] = await Promise.all([
    startDefaultOidcServer({
      clients: [{ clientId, clientSecret, redirectUris: [callbackUrl] }],
    }),
    startTokenStub(),
    startTestApp({ env: { PUBLIC_URL: publicUrl } }),
  ]);
  user = await createKey(app, ["credentials:read", "credentials:use", "credentials:write"]);
});
afterAll(async () => {
  await Promise.all([app?.close(), oidc?.close(), stub?.close()]);
});

let counter = 0;
const unique = (label: string) => `${label}-${++counter}`;

const read = async (id: string) => {
  const credential = dataOf(await app.execute(CredentialQuery, { id }, { key: user })).credential;
  if (credential?.__typename !== "OAuth2Credential") throw new Error("not an OAuth2 credential");
  return credential;
};

const acquire = async (credentialId: string) =>
  dataOf(await app.execute(AcquireHeadersMutation, { input: { credentialId } }, { key: user }))
    .acquireCredentialHeaders;

const rawId = (globalId: string) =>
  Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");

const expire = (id: string) =>
  app.database.prisma.credential.updateMany({
    where: { id: rawId(id) },
    data: { expiresAt: new Date(Date.now() - 1000) },
  });

async function startAuthorization(id: string) {
  const started = dataOf(
    await app.execute(OidcAuthorizeMutation, { input: { id } }),
  ).authorizeCredential;
  if (started.__typename !== "AuthorizeCredentialSuccess") throw new Error(JSON.stringify(started));
  return { ...started, url: new URL(started.authorizationUrl) };
}

async function reauthorize(id: string, addScopes: string[]) {
  const started = dataOf(
    await app.execute(OidcReauthorizeMutation, { input: { id, addScopes } }),
  ).reauthorizeCredential;
  if (started.__typename !== "AuthorizeCredentialSuccess") throw new Error(JSON.stringify(started));
  return { ...started, url: new URL(started.authorizationUrl) };
}

const complete = async (state: string, code: string, iss?: string) =>
  dataOf(
    await app.execute(OidcCompleteMutation, { input: { state, code, ...(iss ? { iss } : {}) } }),
  ).completeAuthorization;

describe("OpenID Connect against oidc-provider's defaults", () => {
  it("asks for prompt=consent with offline_access, keeps the refresh token, takes sub from an id_token it cannot fetch keys for, and refreshes", async () => {
    const credential = await createCredential(app, {
      name: unique("default-oidc"),
      oauth2: {
        clientId,
        clientSecret,
        authorizationUrl: oidc.authorizationUrl,
        tokenUrl: oidc.tokenUrl,
        scopes: ["openid", "offline_access", "email"],
      },
    });
    const { url } = await startAuthorization(credential.id);
    expect(url.searchParams.get("prompt")).toBe("consent");
    expect(url.searchParams.get("scope")).toBe("openid offline_access email");

    const redirect = await oidc.authorize(url.toString(), { login: "alice" });
    expect(redirect.origin + redirect.pathname).toBe(callbackUrl);
    const page = await app.request(`/oauth/callback${redirect.search}`);
    expect(page.status).toBe(200);

    const issued = oidc.issuedIdTokens.at(-1);
    expect(issued?.sub).toBe("alice");
    const stored = await read(credential.id);
    expect(stored).toMatchObject({
      status: "ACTIVE",
      statusReason: null,
      accountId: issued?.sub,
      missingScopes: [],
      grantedScopes: expect.arrayContaining(["openid", "offline_access", "email"]),
      accessToken: { isSet: true },
      refreshToken: { isSet: true },
    });
    expect(oidc.counts.authorizationCodeGrants).toBe(1);

    // A refresh with the provider's default policy: a young refresh token is not rotated.
    await expire(credential.id);
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
    });
    const refreshed = await read(credential.id);
    expect(oidc.counts.refreshGrants).toBe(1);
    expect(refreshed.accessToken?.value).not.toBe(stored.accessToken?.value);
    expect(refreshed.refreshToken?.value).toBe(stored.refreshToken?.value);
    expect(refreshed).toMatchObject({ status: "ACTIVE", missingScopes: [] });

    // Past 70% of its lifetime the default policy rotates it: the new one replaces the old.
    await oidc.ageRefreshToken(refreshed.refreshToken?.value ?? "", 0.8);
    await expire(credential.id);
    expect((await acquire(credential.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
    const rotated = await read(credential.id);
    expect(oidc.counts.refreshGrants).toBe(2);
    expect(rotated.refreshToken?.value).not.toBe(refreshed.refreshToken?.value);

    // The rotated token works; the grant was never revoked (no reuse of a rotated token).
    await expire(credential.id);
    expect((await acquire(credential.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
    expect(oidc.counts.refreshGrants).toBe(3);
    expect(oidc.counts.revokedGrants).toBe(0);
    expect(oidc.counts.grantErrors).toEqual([]);
    expect(await read(credential.id)).toMatchObject({ status: "ACTIVE", missingScopes: [] });
  });

  it("sends prompt=consent exactly when offline_access is requested and no prompt is configured", async () => {
    const promptsFor = async (
      scopes: string[],
      extraAuthorizationParams?: Record<string, string>,
    ) => {
      const credential = await createCredential(app, {
        name: unique("prompt"),
        oauth2: {
          clientId,
          authorizationUrl: oidc.authorizationUrl,
          tokenUrl: oidc.tokenUrl,
          scopes,
          ...(extraAuthorizationParams ? { extraAuthorizationParams } : {}),
        },
      });
      return (await startAuthorization(credential.id)).url.searchParams.getAll("prompt");
    };
    expect(await promptsFor(["openid", "offline_access"])).toEqual(["consent"]);
    expect(await promptsFor(["offline_access", "read"])).toEqual(["consent"]);
    expect(await promptsFor(["openid", "email"])).toEqual([]);
    expect(await promptsFor([])).toEqual([]);
    expect(await promptsFor(["openid", "offline_access"], { prompt: "select_account" })).toEqual([
      "select_account",
    ]);
    expect(await promptsFor(["openid"], { prompt: "login" })).toEqual(["login"]);
  });
});

// id_tokens for the stub to return, signed with a key nobody publishes.
const foreignKey: KeyObject = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
const idToken = (claims: JWTPayload, key: KeyObject = foreignKey) =>
  new SignJWT({ iat: Math.floor(Date.now() / 1000), ...claims })
    .setProtectedHeader({ alg: "RS256", kid: "not-published" })
    .sign(key);

describe("scopes granted in another spelling or not at all", () => {
  const googleLike = (scopes: string[], providerKey?: string) =>
    createCredential(app, {
      name: unique("google-like"),
      ...(providerKey ? { providerKey } : {}),
      oauth2: {
        clientId,
        clientSecret,
        authorizationUrl: "https://accounts.provider.example/o/oauth2/v2/auth",
        tokenUrl: stub.tokenUrl,
        scopes,
      },
    });

  /** Runs one authorization against the stub; `reply` gets the nonce that was sent. */
  async function authorizeWith(
    started: { state: string; url: URL },
    reply: (nonce: string) => Promise<Record<string, unknown>>,
  ) {
    const nonce = started.url.searchParams.get("nonce") ?? "";
    stub.script(tokenReply(await reply(nonce)));
    return complete(started.state, `code-${randomBytes(8).toString("hex")}`);
  }

  const googleToken = async (nonce: string, scope: string, sub = "google-sub-1") => ({
    access_token: `access-${randomBytes(8).toString("hex")}`,
    refresh_token: `refresh-${randomBytes(8).toString("hex")}`,
    scope,
    id_token: await idToken({
      iss: "https://accounts.provider.example",
      aud: clientId,
      azp: clientId,
      sub,
      nonce,
      exp: Math.floor(Date.now() / 1000) + 3600,
    }),
  });

  it("keeps the tokens of a partial grant: DEGRADED with exactly the missing scopes, usable, healed by reauthorizeCredential", async () => {
    const credential = await googleLike(["openid", "email", drive], "google");
    const completed = await authorizeWith(await startAuthorization(credential.id), (nonce) =>
      googleToken(nonce, `openid ${googleEmail}`),
    );
    expect(completed.__typename).toBe("CompleteAuthorizationSuccess");
    const degraded = await read(credential.id);
    expect(degraded).toMatchObject({
      status: "DEGRADED",
      statusReason: { code: "INSUFFICIENT_SCOPES" },
      // `email` came back as userinfo.email: the same scope, not missing.
      missingScopes: [drive],
      grantedScopes: ["openid", googleEmail],
      accountId: "google-sub-1",
      accessToken: { isSet: true },
      refreshToken: { isSet: true },
    });
    expect(degraded.statusReason?.message).toContain(drive);

    // The token works for what was granted: acquire hands it out.
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      headers: [{ name: "Authorization", value: `Bearer ${degraded.accessToken?.value}` }],
    });
    const history = dataOf(await app.execute(OidcHistoryQuery, { id: credential.id })).credential;
    const events = history && "history" in history ? history.history.edges.map((e) => e.node) : [];
    expect(events.find((e) => e.type === "AUTHORIZED")).toMatchObject({
      status: "DEGRADED",
      reason: { code: "INSUFFICIENT_SCOPES" },
    });

    // A refresh without `scope` grants what was granted before: still missing.
    stub.script(tokenReply({ access_token: "refreshed-1" }));
    const rotated = dataOf(
      await app.execute(RotateCredentialMutation, { input: { id: credential.id } }),
    ).rotateCredential;
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    expect(await read(credential.id)).toMatchObject({
      status: "DEGRADED",
      statusReason: { code: "INSUFFICIENT_SCOPES" },
      missingScopes: [drive],
      accessToken: { value: "refreshed-1" },
    });
    // A refresh whose scope still lacks it: still missing.
    stub.script(tokenReply({ access_token: "refreshed-2", scope: `openid ${googleEmail}` }));
    await app.execute(RotateCredentialMutation, { input: { id: credential.id } });
    expect(await read(credential.id)).toMatchObject({
      status: "DEGRADED",
      missingScopes: [drive],
    });

    // Re-authorizing with more scopes; everything granted: ACTIVE, nothing missing.
    const again = await reauthorize(credential.id, [calendar]);
    expect(again.url.searchParams.get("scope")).toBe(`openid email ${drive} ${calendar}`);
    const healed = await authorizeWith(again, (nonce) =>
      googleToken(nonce, `openid ${googleEmail} ${drive} ${calendar}`),
    );
    expect(healed.__typename).toBe("CompleteAuthorizationSuccess");
    expect(await read(credential.id)).toMatchObject({
      status: "ACTIVE",
      statusReason: null,
      missingScopes: [],
      scopes: ["openid", "email", drive, calendar],
    });
  });

  it("clears a missing scope when a refresh response shows it granted", async () => {
    const credential = await googleLike(["openid", "email", drive], "google");
    await authorizeWith(await startAuthorization(credential.id), (nonce) =>
      googleToken(nonce, `openid ${googleEmail}`),
    );
    expect(await read(credential.id)).toMatchObject({ status: "DEGRADED" });
    stub.script(tokenReply({ access_token: "refreshed", scope: `openid ${googleEmail} ${drive}` }));
    await app.execute(RotateCredentialMutation, { input: { id: credential.id } });
    expect(await read(credential.id)).toMatchObject({
      status: "ACTIVE",
      statusReason: null,
      missingScopes: [],
      grantedScopes: ["openid", googleEmail, drive],
    });
  });

  it("compares scopes exactly for providers without a declared spelling", async () => {
    const credential = await googleLike(["openid", "email", drive]);
    await authorizeWith(await startAuthorization(credential.id), (nonce) =>
      googleToken(nonce, `openid ${googleEmail}`),
    );
    expect(await read(credential.id)).toMatchObject({
      status: "DEGRADED",
      missingScopes: ["email", drive],
    });
  });

  it("reads an absent scope as the requested one, and never counts openid or offline_access missing", async () => {
    const asRequested = await googleLike(["openid", "email", drive], "google");
    await authorizeWith(await startAuthorization(asRequested.id), async (nonce) => {
      const { scope: _dropped, ...token } = await googleToken(nonce, "");
      return token;
    });
    expect(await read(asRequested.id)).toMatchObject({
      status: "ACTIVE",
      missingScopes: [],
      grantedScopes: ["openid", "email", drive],
    });

    const signals = await googleLike(["openid", "offline_access", "read"]);
    await authorizeWith(await startAuthorization(signals.id), (nonce) =>
      googleToken(nonce, "read"),
    );
    expect(await read(signals.id)).toMatchObject({ status: "ACTIVE", missingScopes: [] });
  });
});

describe("id_token checks", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const withoutIssuer = () =>
    createCredential(app, {
      name: unique("id-token"),
      oauth2: {
        clientId,
        clientSecret,
        authorizationUrl: "https://login.provider.example/authorize",
        tokenUrl: stub.tokenUrl,
        scopes: ["openid", "email"],
      },
    });

  async function outcome(
    credentialId: string,
    claims: (nonce: string) => JWTPayload | string,
    iss?: string,
  ) {
    const started = await startAuthorization(credentialId);
    const nonce = started.url.searchParams.get("nonce") ?? "";
    const made = claims(nonce);
    const token = typeof made === "string" ? made : await idToken(made);
    stub.script(tokenReply({ access_token: "access-from-stub", id_token: token }));
    return { result: await complete(started.state, "the-code", iss), token };
  }

  const valid = (nonce: string): JWTPayload => ({
    iss: "https://login.provider.example",
    aud: clientId,
    sub: "subject-1",
    nonce,
    exp: now() + 600,
  });

  it("accepts a token whose claims match without checking its signature", async () => {
    const credential = await withoutIssuer();
    const { result } = await outcome(credential.id, valid);
    expect(result.__typename).toBe("CompleteAuthorizationSuccess");
    expect(await read(credential.id)).toMatchObject({ status: "ACTIVE", accountId: "subject-1" });
  });

  // Each refused for its own reason (the message names it), not as a blanket refusal.
  it.each([
    ["another audience", "audience", (n: string) => ({ ...valid(n), aud: "someone-else" })],
    [
      "another authorized party",
      "authorized party",
      (n: string) => ({ ...valid(n), azp: "someone-else" }),
    ],
    [
      "several audiences without azp",
      "several audiences",
      (n: string) => ({ ...valid(n), aud: [clientId, "someone-else"] }),
    ],
    ["another nonce", "nonce", (n: string) => ({ ...valid(n), nonce: `${n}x` })],
    ["no nonce", "nonce", (n: string) => ({ ...valid(n), nonce: undefined })],
    ["an expired token", "expired", (n: string) => ({ ...valid(n), exp: now() - 120 })],
    ["no expiry", "no expiry", (n: string) => ({ ...valid(n), exp: undefined })],
    ["no subject", "subject", (n: string) => ({ ...valid(n), sub: undefined })],
    ["a malformed token", "malformed", () => "not.a-jwt.at-all"],
    ["an encrypted token", "malformed", () => "a.b.c.d.e"],
  ] as const)(
    "refuses %s with AUTHORIZATION_FAILED and stores nothing",
    async (_label, reason, claims) => {
      const credential = await withoutIssuer();
      const { result, token } = await outcome(credential.id, claims);
      expect(result).toMatchObject({
        __typename: "CredentialProviderError",
        code: "AUTHORIZATION_FAILED",
        message: expect.stringMatching(
          new RegExp(`^The id_token could not be verified: .*${reason}`),
        ),
      });
      expect(JSON.stringify(result)).not.toContain(token);
      expect(JSON.stringify(result)).not.toContain("access-from-stub");
      expect(await read(credential.id)).toMatchObject({
        status: "PENDING_AUTHORIZATION",
        statusReason: { code: "AUTHORIZATION_FAILED" },
        accessToken: null,
        refreshToken: null,
        accountId: null,
      });
      const rows = await app.database.prisma.credentialSecret.count({
        where: { credentialId: rawId(credential.id) },
      });
      expect(rows).toBe(1); // the client secret only
    },
  );

  it("with an issuer whose keys are known, refuses a token signed by another key", async () => {
    const credential = await createCredential(app, {
      name: unique("issuer-known"),
      oauth2: {
        clientId,
        clientSecret,
        issuer: oidc.issuer,
        tokenUrl: stub.tokenUrl,
        scopes: ["openid"],
      },
    });
    const { result } = await outcome(
      credential.id,
      (nonce) => ({ ...valid(nonce), iss: oidc.issuer }),
      oidc.issuer,
    );
    expect(result).toMatchObject({
      __typename: "CredentialProviderError",
      code: "AUTHORIZATION_FAILED",
      message: expect.stringContaining("not signed with a key the issuer publishes"),
    });
    expect(await read(credential.id)).toMatchObject({
      status: "PENDING_AUTHORIZATION",
      accessToken: null,
    });
  });
});
