// The authorization-code + PKCE flow against a real authorization server (oidc-provider on
// loopback): authorize, callback, refresh with rotation, re-authorize, client credentials,
// mix-up defence, replay, and revocation on delete.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CredentialQuery,
  DeleteCredentialMutation,
  RotateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";
import { type OidcServer, startOidcServer } from "../helpers/oidc-server.js";

const AuthorizeMutation = graphql(`
  mutation Authorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
        state
        expiresAt
      }
      ... on Error {
        message
      }
    }
  }
`);

const ReauthorizeMutation = graphql(`
  mutation Reauthorize($input: ReauthorizeCredentialInput!) {
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

const CompleteMutation = graphql(`
  mutation Complete($input: CompleteAuthorizationInput!) {
    completeAuthorization(input: $input) {
      __typename
      ... on CompleteAuthorizationSuccess {
        credential {
          ... on OAuth2Credential {
            id
            status
            accountId
            grantedScopes
          }
        }
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

const HistoryQuery = graphql(`
  query History($id: ID!) {
    credential(id: $id) {
      ... on CredentialBase {
        history(first: 50) {
          edges {
            node {
              type
              status
              reason {
                code
              }
              attempt {
                action
                outcome
                httpStatus
                errorCode
                durationMs
              }
            }
          }
        }
      }
    }
  }
`);

const publicUrl = "http://keyport.test";
const openerOrigin = "https://app.example.com";
const callbackUrl = `${publicUrl}/oauth/callback`;
const clientSecret = "s3cr:t+with%odd/chars=";

describe("OAuth 2.0 against a real authorization server", () => {
  let oidc: OidcServer;
  let app: TestApp;
  let user: string;

  beforeAll(async () => {
    oidc = await startOidcServer({
      clients: [
        { clientId: "keyport", clientSecret, redirectUris: [callbackUrl] },
        { clientId: "machine", clientSecret: "machine-secret", grantTypes: ["client_credentials"] },
        {
          clientId: "machine-post",
          clientSecret: "machine-post-secret",
          grantTypes: ["client_credentials"],
          tokenEndpointAuthMethod: "client_secret_post",
        },
      ],
      scopes: ["read", "write"],
      rotateRefreshToken: true,
    });
    app = await startTestApp({ env: { PUBLIC_URL: publicUrl, ALLOWED_ORIGINS: openerOrigin } });
    user = await createKey(app, ["credentials:read", "credentials:use", "credentials:write"]);
  });
  afterAll(async () => {
    await app?.close();
    await oidc?.close();
  });

  const createOAuth = (name: string, overrides: Record<string, unknown> = {}) =>
    createCredential(app, {
      name,
      oauth2: {
        clientId: "keyport",
        clientSecret,
        issuer: oidc.issuer,
        scopes: ["openid", "read"],
        ...overrides,
      },
    });

  async function authorize(
    id: string,
    options: { accountId?: string; deny?: boolean; openerOrigin?: string } = {},
  ) {
    const started = dataOf(
      await app.execute(AuthorizeMutation, {
        input: { id, ...(options.openerOrigin ? { openerOrigin: options.openerOrigin } : {}) },
      }),
    ).authorizeCredential;
    if (started.__typename !== "AuthorizeCredentialSuccess")
      throw new Error(JSON.stringify(started));
    const redirect = await oidc.authorize(started.authorizationUrl, options);
    return { started, redirect };
  }

  async function callback(redirect: URL) {
    expect(redirect.origin + redirect.pathname).toBe(callbackUrl);
    const response = await app.request(`/oauth/callback${redirect.search}`);
    return { status: response.status, html: await response.text() };
  }

  const acquire = async (credentialId: string, minValiditySeconds?: number) =>
    dataOf(
      await app.execute(
        AcquireHeadersMutation,
        {
          input: {
            credentialId,
            ...(minValiditySeconds !== undefined ? { minValiditySeconds } : {}),
          },
        },
        { key: user },
      ),
    ).acquireCredentialHeaders;

  const read = async (id: string) => {
    const credential = dataOf(await app.execute(CredentialQuery, { id }, { key: user })).credential;
    if (credential?.__typename !== "OAuth2Credential") throw new Error("not an OAuth2 credential");
    return credential;
  };

  const expire = (name: string) =>
    app.database.prisma.credential.updateMany({
      where: { name },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });

  it("authorizes with PKCE S256 and state, and completes through the callback page", async () => {
    const credential = await createOAuth("primary");
    expect(credential).toMatchObject({ status: "PENDING_AUTHORIZATION" });
    const { started, redirect } = await authorize(credential.id);

    const url = new URL(started.authorizationUrl);
    expect(url.origin + url.pathname).toBe(oidc.authorizationUrl);
    expect(url.searchParams.get("code_challenge_method")).toBe("S256");
    expect(url.searchParams.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get("redirect_uri")).toBe(callbackUrl);
    expect(url.searchParams.get("state")).toBe(started.state);
    expect(started.state.length).toBeGreaterThanOrEqual(43);
    expect(url.searchParams.get("scope")).toBe("openid read");
    expect(new Date(started.expiresAt).getTime() - Date.now()).toBeGreaterThan(9 * 60_000);
    expect(redirect.searchParams.get("iss")).toBe(oidc.issuer);

    const page = await callback(redirect);
    expect(page.status).toBe(200);
    // Started without an openerOrigin: the page shows the outcome and posts it nowhere.
    expect(page.html).toContain("<h1>Connected</h1>");
    expect(page.html).not.toContain("postMessage");
    expect(page.html).not.toContain(redirect.searchParams.get("code") ?? "no code");

    const stored = await read(credential.id);
    expect(stored).toMatchObject({
      status: "ACTIVE",
      accountId: "user-1",
      grantedScopes: expect.arrayContaining(["openid", "read"]),
      accessToken: { isSet: true },
      refreshToken: { isSet: true },
    });
    expect(new Date(stored.expiresAt ?? 0).getTime()).toBeGreaterThan(Date.now());
    expect(oidc.counts.authorizationCodeGrants).toBe(1);

    const material = await acquire(credential.id);
    expect(material).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      headers: [{ name: "Authorization", value: `Bearer ${stored.accessToken?.value}` }],
    });

    // The same callback again is a replay: rejected before any token request.
    const grantsBefore = oidc.counts.authorizationCodeGrants + oidc.counts.grantErrors.length;
    const replay = await callback(redirect);
    expect(replay.status).toBe(400);
    expect(replay.html).toContain("AUTHORIZATION_FAILED");
    expect(oidc.counts.authorizationCodeGrants + oidc.counts.grantErrors.length).toBe(grantsBefore);
  });

  it("refreshes an expired token with rotation, once, and records the attempt", async () => {
    const credential = await createOAuth("refreshing");
    await callback((await authorize(credential.id)).redirect);
    const before = await read(credential.id);
    await expire("refreshing");
    oidc.resetCounts();

    const material = await acquire(credential.id);
    expect(material.__typename).toBe("AcquireCredentialHeadersSuccess");
    expect(oidc.counts.refreshGrants).toBe(1);
    expect(oidc.counts.revokedGrants).toBe(0);
    const after = await read(credential.id);
    expect(after.accessToken?.value).not.toBe(before.accessToken?.value);
    expect(after.refreshToken?.value).not.toBe(before.refreshToken?.value);
    expect(material).toMatchObject({ headers: [{ value: `Bearer ${after.accessToken?.value}` }] });

    // A valid token is handed out without another refresh.
    await acquire(credential.id);
    expect(oidc.counts.refreshGrants).toBe(1);

    // rotateCredential without a secret refreshes now, with the rotated refresh token.
    const rotated = dataOf(
      await app.execute(RotateCredentialMutation, { input: { id: credential.id } }, { key: user }),
    ).rotateCredential;
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    expect(oidc.counts.refreshGrants).toBe(2);
    expect(oidc.counts.revokedGrants).toBe(0);
    expect(oidc.counts.grantErrors).toEqual([]);

    const history = dataOf(await app.execute(HistoryQuery, { id: credential.id })).credential;
    const entries = history && "history" in history ? history.history.edges.map((e) => e.node) : [];
    expect(entries.filter((e) => e.type === "REFRESHED")).toHaveLength(2);
    expect(entries.find((e) => e.type === "REFRESHED")?.attempt).toMatchObject({
      action: "REFRESH",
      outcome: "SUCCESS",
      httpStatus: 200,
      errorCode: null,
    });
    expect(entries.find((e) => e.type === "AUTHORIZED")?.attempt).toMatchObject({
      action: "EXCHANGE",
      outcome: "SUCCESS",
    });
    expect(JSON.stringify(history)).not.toContain(after.refreshToken?.value ?? "-");
  });

  it("rejects a response from another issuer (RFC 9207) and a missing iss, without a token request", async () => {
    const credential = await createOAuth("mixup");
    const { redirect } = await authorize(credential.id);
    oidc.resetCounts();
    const forged = dataOf(
      await app.execute(CompleteMutation, {
        input: {
          state: redirect.searchParams.get("state") ?? "",
          code: redirect.searchParams.get("code") ?? "",
          iss: "https://attacker.example",
        },
      }),
    ).completeAuthorization;
    expect(forged).toMatchObject({
      __typename: "CredentialProviderError",
      code: "AUTHORIZATION_FAILED",
    });

    const second = await authorize(credential.id);
    const withoutIss = dataOf(
      await app.execute(CompleteMutation, {
        input: {
          state: second.redirect.searchParams.get("state") ?? "",
          code: second.redirect.searchParams.get("code") ?? "",
        },
      }),
    ).completeAuthorization;
    expect(withoutIss).toMatchObject({
      __typename: "CredentialProviderError",
      code: "AUTHORIZATION_FAILED",
    });
    expect(oidc.counts.authorizationCodeGrants).toBe(0);
    expect(oidc.counts.grantErrors).toEqual([]);
    expect((await read(credential.id)).status).toBe("PENDING_AUTHORIZATION");
  });

  it("tells the opener window the outcome, with the credential, and closes only on success", async () => {
    const credential = await createOAuth("popup");
    const page = await callback((await authorize(credential.id, { openerOrigin })).redirect);
    expect(page.status).toBe(200);
    const posted = JSON.parse(/var message = (\{.*?\});/.exec(page.html)?.[1] ?? "null");
    expect(posted).toEqual({
      type: "keyport:oauth",
      status: "success",
      credentialId: credential.id,
      code: null,
    });
    expect(page.html).toContain(
      `postMessage(message, ${JSON.stringify(openerOrigin)}); window.close();`,
    );
  });

  it("rejects unknown and expired states, and records a denied authorization", async () => {
    const credential = await createOAuth("denied");
    const unknown = dataOf(
      await app.execute(CompleteMutation, { input: { state: "made-up-state", code: "x" } }),
    ).completeAuthorization;
    expect(unknown).toMatchObject({
      __typename: "CredentialProviderError",
      code: "AUTHORIZATION_FAILED",
    });

    const { redirect } = await authorize(credential.id);
    await app.database.prisma.oAuthAuthorization.updateMany({
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    const expired = await callback(redirect);
    expect(expired.status).toBe(400);

    const denied = await authorize(credential.id, { deny: true });
    expect(denied.redirect.searchParams.get("error")).toBe("access_denied");
    const page = await callback(denied.redirect);
    expect(page.status).toBe(400);
    // The user's refusal has its own code, on the page and on the credential.
    expect(page.html).toContain("<code>AUTHORIZATION_DENIED</code>");
    const stored = await read(credential.id);
    expect(stored).toMatchObject({
      status: "PENDING_AUTHORIZATION",
      statusReason: { code: "AUTHORIZATION_DENIED" },
    });
  });

  it("re-authorizes with more scopes, refuses another account, and revives an INVALID credential", async () => {
    const credential = await createOAuth("reauth");
    await callback((await authorize(credential.id)).redirect);
    const original = await read(credential.id);

    const mismatch = dataOf(
      await app.execute(ReauthorizeMutation, {
        input: { id: credential.id, addScopes: ["write"] },
      }),
    ).reauthorizeCredential;
    if (mismatch.__typename !== "AuthorizeCredentialSuccess")
      throw new Error(JSON.stringify(mismatch));
    const wrongAccount = await callback(
      await oidc.authorize(mismatch.authorizationUrl, { accountId: "someone-else" }),
    );
    expect(wrongAccount.html).toContain("ACCOUNT_MISMATCH");
    const kept = await read(credential.id);
    expect(kept.accessToken?.value).toBe(original.accessToken?.value);
    expect(kept).toMatchObject({
      status: "ACTIVE",
      scopes: ["openid", "read"],
      accountId: "user-1",
    });

    await app.database.prisma.credential.updateMany({
      where: { name: "reauth" },
      data: {
        status: "INVALID",
        statusReasonCode: "REFRESH_TOKEN_REVOKED",
        statusReasonMessage: "revoked",
      },
    });
    const again = dataOf(
      await app.execute(ReauthorizeMutation, {
        input: { id: credential.id, addScopes: ["write"] },
      }),
    ).reauthorizeCredential;
    if (again.__typename !== "AuthorizeCredentialSuccess") throw new Error(JSON.stringify(again));
    expect(new URL(again.authorizationUrl).searchParams.get("scope")).toBe("openid read write");
    const page = await callback(await oidc.authorize(again.authorizationUrl));
    expect(page.status).toBe(200);
    const revived = await read(credential.id);
    expect(revived).toMatchObject({
      status: "ACTIVE",
      statusReason: null,
      scopes: ["openid", "read", "write"],
      grantedScopes: expect.arrayContaining(["write"]),
    });
    expect(revived.accessToken?.value).not.toBe(original.accessToken?.value);
  });

  it("revokes the refresh token at the provider when the credential is deleted", async () => {
    const credential = await createOAuth("to revoke");
    await callback((await authorize(credential.id)).redirect);
    oidc.resetCounts();
    const deleted = dataOf(
      await app.execute(DeleteCredentialMutation, { input: { id: credential.id } }),
    ).deleteCredential;
    expect(deleted.__typename).toBe("DeleteCredentialSuccess");
    expect(oidc.counts.revocations).toBe(1);
    const audit = await app.database.prisma.auditEvent.findFirst({
      where: { action: "credential.delete" },
      orderBy: { createdAt: "desc" },
    });
    expect(audit?.metadata).toMatchObject({ revocation: "revoked" });
  });

  it("fetches client-credentials tokens at creation (basic and post) and caches them", async () => {
    oidc.resetCounts();
    const basic = await createCredential(app, {
      name: "machine basic",
      clientCredentials: {
        clientId: "machine",
        clientSecret: "machine-secret",
        tokenUrl: oidc.tokenUrl,
        scopes: ["read"],
      },
    });
    expect(basic).toMatchObject({ status: "ACTIVE", accessToken: { isSet: true } });
    const post = await createCredential(app, {
      name: "machine post",
      clientCredentials: {
        clientId: "machine-post",
        clientSecret: "machine-post-secret",
        tokenUrl: oidc.tokenUrl,
        tokenEndpointAuthMethod: "CLIENT_SECRET_POST",
      },
    });
    expect(post).toMatchObject({ status: "ACTIVE" });
    expect(oidc.counts.clientCredentialsGrants).toBe(2);
    expect((await acquire(basic.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
    expect(oidc.counts.clientCredentialsGrants).toBe(2);

    const before = await app.database.prisma.credential.count();
    const refused = dataOf(
      await app.execute(
        (await import("../helpers/credential-documents.js")).CreateCredentialMutation,
        {
          input: {
            name: "machine wrong",
            environmentId: basic.environment.id,
            clientCredentials: {
              clientId: "machine",
              clientSecret: "wrong-secret",
              tokenUrl: oidc.tokenUrl,
            },
          },
        },
      ),
    ).createCredential;
    expect(refused).toMatchObject({
      __typename: "CredentialProviderError",
      code: "AUTHORIZATION_FAILED",
    });
    expect(await app.database.prisma.credential.count()).toBe(before);
  });
});
