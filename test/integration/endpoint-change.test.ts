// A caller who cannot read a secret cannot send it anywhere new. A `credentials:write` key once
// pointed tokenUrl at its own server and had keyport POST the refresh token and client secret
// there (rotateCredential) or the tokens (deleteCredential's revocation). Now changing where a
// secret goes needs that secret again, and tokens the old endpoint issued are dropped and
// revoked there.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CredentialQuery,
  DeleteCredentialMutation,
  RotateCredentialMutation,
  UpdateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";
import { startTokenStub, type TokenStub, tokenReply } from "../helpers/token-stub.js";

const canary = {
  clientSecret: "CANARY-client-secret-7f3a9c",
  refreshToken: "CANARY-refresh-token-b81d20",
  accessToken: "CANARY-access-token-4e5f61",
  password: "CANARY-password-c0ffee12",
  bearerRefresh: "CANARY-bearer-refresh-9a8b7c",
};

/** Every canary that appears anywhere in what this server received. */
function canariesSeenBy(stub: TokenStub): string[] {
  const seen = JSON.stringify(stub.requests);
  const decoded = stub.requests
    .map((r) => String(r.headers.authorization ?? ""))
    .map((h) => (h.startsWith("Basic ") ? Buffer.from(h.slice(6), "base64").toString() : h))
    .join(" ");
  return Object.values(canary).filter(
    (value) => seen.includes(value) || decodeURIComponent(decoded).includes(value),
  );
}

describe("changing where a secret is sent", () => {
  let app: TestApp;
  let legit: TokenStub;
  let attacker: TokenStub;
  let writer: string;

  beforeAll(async () => {
    app = await startTestApp();
    legit = await startTokenStub();
    attacker = await startTokenStub();
    writer = await createKey(app, ["credentials:read", "credentials:write"]);
  });
  afterAll(async () => {
    await app?.close();
    await legit?.close();
    await attacker?.close();
  });
  beforeEach(() => {
    legit.script(tokenReply({ access_token: "legit-new-access" }));
    attacker.script(tokenReply({ access_token: "attacker-access" }));
  });

  async function oauthCredential(name: string) {
    return createCredential(app, {
      name,
      oauth2: {
        clientId: "client",
        clientSecret: canary.clientSecret,
        accessToken: canary.accessToken,
        refreshToken: canary.refreshToken,
        expiresAt: new Date(Date.now() + 3600_000).toISOString(),
        authorizationUrl: `${legit.tokenUrl.replace("/token", "/authorize")}`,
        tokenUrl: legit.tokenUrl,
        revocationUrl: legit.tokenUrl.replace("/token", "/revoke"),
      },
    });
  }

  const update = (input: Parameters<TestApp["execute"]>[1], key = writer) =>
    app.execute(UpdateCredentialMutation, input as never, { key });

  it("refuses a new tokenUrl, revocationUrl or issuer without the client secret, and nothing reaches the new URL", async () => {
    const credential = await oauthCredential("oauth attack");
    const versionBefore = (
      await app.database.prisma.credential.findFirstOrThrow({ where: { name: "oauth attack" } })
    ).version;
    for (const change of [
      { tokenUrl: attacker.tokenUrl },
      { revocationUrl: attacker.tokenUrl.replace("/token", "/revoke") },
      { issuer: attacker.tokenUrl.replace("/token", "") },
    ]) {
      const result = dataOf(
        await update({ input: { id: credential.id, oauth2: change } }),
      ).updateCredential;
      expect(result.__typename).toBe("ValidationError");
      if (result.__typename !== "ValidationError") continue;
      expect(result.fieldErrors).toEqual([
        {
          path: ["input", "oauth2", "clientSecret"],
          message: expect.stringContaining(
            "a secret is sent only to the endpoints it was entered for",
          ),
        },
      ]);
    }
    // Nothing changed: the next refresh and the delete still talk to the legitimate server.
    const row = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "oauth attack" },
    });
    expect(row.version).toBe(versionBefore);
    const rotated = dataOf(
      await app.execute(
        RotateCredentialMutation,
        { input: { id: credential.id } },
        { key: writer },
      ),
    ).rotateCredential;
    expect(rotated.__typename).toBe("RotateCredentialSuccess");
    expect(legit.requests.at(-1)?.form.refresh_token).toBe(canary.refreshToken);
    const deleted = dataOf(
      await app.execute(
        DeleteCredentialMutation,
        { input: { id: credential.id } },
        { key: writer },
      ),
    ).deleteCredential;
    expect(deleted.__typename).toBe("DeleteCredentialSuccess");
    expect(legit.requests.at(-1)?.path).toBe("/revoke");
    expect(attacker.requests).toHaveLength(0);
  });

  it("with the secret given again, drops the old server's tokens and revokes them there", async () => {
    const credential = await oauthCredential("oauth move");
    const before = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "oauth move" },
    });
    const result = dataOf(
      await update({
        input: {
          id: credential.id,
          oauth2: { tokenUrl: attacker.tokenUrl, clientSecret: "a-new-client-secret-0000" },
        },
      }),
    ).updateCredential;
    expect(result.__typename).toBe("UpdateCredentialSuccess");
    if (result.__typename !== "UpdateCredentialSuccess") return;
    expect(result.credential).toMatchObject({
      status: "PENDING_AUTHORIZATION",
      tokenUrl: attacker.tokenUrl,
      accessToken: null,
      refreshToken: null,
      expiresAt: null,
      clientSecret: { isSet: true, preview: "••••0000" },
    });
    const after = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "oauth move" },
      include: { secrets: true },
    });
    expect(after.version).toBe(before.version + 1);
    expect(after.secrets.map((s) => s.field).sort()).toEqual(["clientSecret"]);
    // Revoked at the old endpoint, with what was entered for it.
    const revocation = legit.requests.find((r) => r.path === "/revoke");
    expect(revocation?.form).toMatchObject({
      token: canary.refreshToken,
      token_type_hint: "refresh_token",
    });
    // The new endpoint never saw any secret entered for the old one, and a refresh is refused.
    const rotated = dataOf(
      await app.execute(
        RotateCredentialMutation,
        { input: { id: credential.id } },
        { key: writer },
      ),
    ).rotateCredential;
    expect(rotated.__typename).toBe("CredentialProviderError");
    expect(canariesSeenBy(attacker)).toEqual([]);
  });

  it("fences a refresh that was in flight when the endpoint changed", async () => {
    const credential = await createCredential(app, {
      name: "oauth in flight",
      oauth2: {
        clientId: "client",
        clientSecret: canary.clientSecret,
        accessToken: canary.accessToken,
        refreshToken: canary.refreshToken,
        expiresAt: new Date(Date.now() - 1000).toISOString(),
        authorizationUrl: legit.tokenUrl.replace("/token", "/authorize"),
        tokenUrl: legit.tokenUrl,
      },
    });
    const user = await createKey(app, ["credentials:use"]);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived!: () => void;
    const tokenArrived = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    app.keyport.services.refresher.onTokenResponse = async () => {
      arrived();
      await held;
    };
    try {
      const acquiring = app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: credential.id } },
        { key: user },
      );
      await tokenArrived;
      const moved = dataOf(
        await update({
          input: {
            id: credential.id,
            oauth2: { tokenUrl: attacker.tokenUrl, clientSecret: "another-client-secret-1111" },
          },
        }),
      ).updateCredential;
      expect(moved.__typename).toBe("UpdateCredentialSuccess");
      release();
      await acquiring;
    } finally {
      app.keyport.services.refresher.onTokenResponse = null;
    }
    // The refresh's result (from the old server) was not written over the change.
    const row = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "oauth in flight" },
      include: { secrets: true },
    });
    expect(row.status).toBe("PENDING_AUTHORIZATION");
    expect(row.secrets.map((s) => s.field)).toEqual(["clientSecret"]);
  });

  it("client credentials: a new tokenUrl needs the secret, and the next token comes from the new endpoint with the new secret", async () => {
    const credential = await createCredential(app, {
      name: "cc",
      verify: false,
      clientCredentials: {
        clientId: "cc",
        clientSecret: canary.clientSecret,
        tokenUrl: legit.tokenUrl,
      },
    });
    const refused = dataOf(
      await update({
        input: { id: credential.id, clientCredentials: { tokenUrl: attacker.tokenUrl } },
      }),
    ).updateCredential;
    expect(refused.__typename).toBe("ValidationError");
    const user = await createKey(app, ["credentials:use"]);
    // A token cached from the legitimate endpoint...
    const first = dataOf(
      await app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: credential.id } },
        { key: user },
      ),
    ).acquireCredentialHeaders;
    expect(first).toMatchObject({ headers: [{ value: "Bearer legit-new-access" }] });
    // ...is dropped with the move; the next use fetches from the new endpoint.
    const moved = dataOf(
      await update({
        input: {
          id: credential.id,
          clientCredentials: { tokenUrl: attacker.tokenUrl, clientSecret: "cc-new-secret-22" },
        },
      }),
    ).updateCredential;
    expect(moved).toMatchObject({ credential: { status: "ACTIVE", accessToken: null } });
    const second = dataOf(
      await app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: credential.id } },
        { key: user },
      ),
    ).acquireCredentialHeaders;
    expect(second).toMatchObject({ headers: [{ value: "Bearer attacker-access" }] });
    expect(attacker.requests).toHaveLength(1);
    const basic = String(attacker.requests[0]?.headers.authorization);
    expect(Buffer.from(basic.slice(6), "base64").toString()).toBe("cc:cc-new-secret-22");
    expect(canariesSeenBy(attacker)).toEqual([]);
  });

  it("a login's host and a refresh request's endpoint need their secrets too; a secret alone is refused", async () => {
    const login = await createCredential(app, {
      name: "db login",
      basic: { username: "app", password: canary.password, host: "db.internal.example" },
    });
    const hostOnly = dataOf(
      await update({ input: { id: login.id, basic: { host: "collector.example" } } }),
    ).updateCredential;
    expect(hostOnly).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "basic", "password"] }],
    });
    const passwordOnly = dataOf(
      await update({ input: { id: login.id, basic: { password: "sneaky-new-password" } } }),
    ).updateCredential;
    expect(passwordOnly).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        {
          path: ["input", "basic", "password"],
          message: expect.stringContaining("rotateCredential"),
        },
      ],
    });
    const withPassword = dataOf(
      await update({
        input: {
          id: login.id,
          basic: { host: "db2.internal.example", password: "new-db-password" },
        },
      }),
    ).updateCredential;
    expect(withPassword).toMatchObject({
      credential: { host: "db2.internal.example", password: { isSet: true } },
    });
    // Other settings change freely.
    const renamed = dataOf(
      await update({ input: { id: login.id, name: "db login 2", basic: { port: 5433 } } }),
    ).updateCredential;
    expect(renamed).toMatchObject({ credential: { name: "db login 2", port: 5433 } });

    const bearer = await createCredential(app, {
      name: "bearer with refresh",
      bearer: {
        token: "bearer-token-value-123",
        refreshToken: canary.bearerRefresh,
        refreshRequest: { endpoint: legit.tokenUrl, accessTokenPath: "access_token" },
      },
    });
    const moved = dataOf(
      await update({
        input: {
          id: bearer.id,
          bearer: {
            refreshRequest: { endpoint: attacker.tokenUrl, accessTokenPath: "access_token" },
          },
        },
      }),
    ).updateCredential;
    expect(moved).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "bearer", "refreshToken"] }],
    });
    const stored = await app.execute(CredentialQuery, { id: bearer.id }, { key: writer });
    expect(dataOf(stored).credential).toMatchObject({
      refreshRequest: { endpoint: legit.tokenUrl },
    });
  });
});
