// Outages never destroy a credential, failures are not retried by every caller, and the sweeper
// cannot starve. A scripted token endpoint on 127.0.0.1 plays the provider.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { graphqlRequest, startCluster } from "../helpers/cluster.js";
import {
  AcquireHeadersMutation,
  CreateCredentialMutation,
  CredentialQuery,
  RotateCredentialMutation,
} from "../helpers/credential-documents.js";
import { createCredential } from "../helpers/credentials.js";
import { ViewerQuery } from "../helpers/documents.js";
import {
  oauthErrorReply,
  startTokenStub,
  type TokenStub,
  tokenReply,
} from "../helpers/token-stub.js";

const secondsFromNow = (seconds: number) => new Date(Date.now() + seconds * 1000);
const rawId = (globalId: string) =>
  Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let counter = 0;
const unique = (label: string) => `${label}-${++counter}-${Math.random().toString(36).slice(2)}`;

describe("refresh resilience", () => {
  let app: TestApp;
  let stub: TokenStub;
  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({
        env: {
          TOKEN_REQUEST_TIMEOUT_MS: "500",
          REFRESH_FAILURE_BACKOFF: "1s",
          REFRESH_GIVE_UP_AFTER: "1m",
          REFRESH_KEEPALIVE: "1m",
        },
      }),
      startTokenStub(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  const oauth2 = (expiresAt: Date, extra: Record<string, unknown> = {}) =>
    createCredential(app, {
      name: unique("oauth2"),
      oauth2: {
        clientId: "client",
        clientSecret: "client-secret-value",
        authorizationUrl: "https://provider.example/authorize",
        tokenUrl: stub.tokenUrl,
        accessToken: unique("access"),
        refreshToken: unique("refresh"),
        expiresAt: expiresAt.toISOString(),
        ...extra,
      },
    });
  const acquire = async (credentialId: string, minValiditySeconds = 60) =>
    dataOf(
      await app.execute(AcquireHeadersMutation, { input: { credentialId, minValiditySeconds } }),
    ).acquireCredentialHeaders;
  const read = async (id: string) => dataOf(await app.execute(CredentialQuery, { id })).credential;
  const rotate = async (id: string) =>
    dataOf(await app.execute(RotateCredentialMutation, { input: { id } })).rotateCredential;

  it("rides out an outage: DEGRADED with a typed error, no token call inside the backoff, ACTIVE again when the provider returns", async () => {
    const credential = await oauth2(secondsFromNow(-60));
    stub.script({ status: 503 });
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "DEGRADED",
      reason: { code: "PROVIDER_UNAVAILABLE" },
    });
    expect(stub.requests).toHaveLength(3);
    // Inside REFRESH_FAILURE_BACKOFF: the recorded failure, without calling the provider.
    for (let i = 0; i < 5; i++) {
      expect(await acquire(credential.id)).toMatchObject({
        __typename: "CredentialNotUsableError",
        status: "DEGRADED",
        reason: { code: "PROVIDER_UNAVAILABLE" },
      });
    }
    expect(stub.requests).toHaveLength(3);
    expect(await read(credential.id)).toMatchObject({ status: "DEGRADED" });

    // The provider is back; after the backoff the next caller refreshes, no re-authorization.
    stub.script(tokenReply({ access_token: "after-the-outage" }));
    await sleep(1100);
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      headers: [{ value: "Bearer after-the-outage" }],
    });
    expect(await read(credential.id)).toMatchObject({ status: "ACTIVE", statusReason: null });
    const row = await app.database.prisma.credential.findUniqueOrThrow({
      where: { id: rawId(credential.id) },
    });
    expect(row).toMatchObject({ refreshFailingSince: null, nextRefreshAt: null });
  });

  it("gives up only after failing for REFRESH_GIVE_UP_AFTER without a success", async () => {
    const credential = await oauth2(secondsFromNow(-60));
    stub.script({ status: 502 });
    await acquire(credential.id);
    expect(await read(credential.id)).toMatchObject({ status: "DEGRADED" });
    // The run of failures started over a minute ago (REFRESH_GIVE_UP_AFTER is 1m here).
    await app.database.prisma.credential.update({
      where: { id: rawId(credential.id) },
      data: { refreshFailingSince: secondsFromNow(-61), nextRefreshAt: null },
    });
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "INVALID",
    });
    expect(await read(credential.id)).toMatchObject({
      status: "INVALID",
      statusReason: { code: "TOKEN_REFRESH_FAILED" },
    });
  });

  it("treats invalid_client as final, yet an explicit refresh works from INVALID once the provider accepts the client again", async () => {
    const credential = await createCredential(app, {
      name: unique("cc"),
      verify: false,
      clientCredentials: { clientId: "cc", clientSecret: "cc-secret", tokenUrl: stub.tokenUrl },
    });
    stub.script(oauthErrorReply("invalid_client", 401));
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "INVALID",
      reason: { code: "AUTHORIZATION_FAILED" },
    });
    expect(stub.requests).toHaveLength(1);
    stub.script(tokenReply({ access_token: "accepted-again" }));
    expect(await rotate(credential.id)).toMatchObject({
      __typename: "RotateCredentialSuccess",
      credential: { status: "ACTIVE" },
    });
    expect(await acquire(credential.id)).toMatchObject({
      headers: [{ value: "Bearer accepted-again" }],
    });
  });

  it("drops a refresh token the provider revoked, so nothing retries it, not even an explicit refresh", async () => {
    const credential = await oauth2(secondsFromNow(-60));
    stub.script(oauthErrorReply("invalid_grant"));
    expect(await acquire(credential.id)).toMatchObject({
      status: "INVALID",
      reason: { code: "REFRESH_TOKEN_REVOKED" },
    });
    expect(await read(credential.id)).toMatchObject({ refreshToken: null });
    expect(await rotate(credential.id)).toMatchObject({
      __typename: "CredentialProviderError",
      code: "REFRESH_TOKEN_REVOKED",
    });
    expect(stub.requests).toHaveLength(1);
  });

  it("refreshes now from DEGRADED, past the negative cache, when asked to", async () => {
    const credential = await oauth2(secondsFromNow(30));
    stub.script({ status: 500 });
    await acquire(credential.id, 60);
    expect(await read(credential.id)).toMatchObject({ status: "DEGRADED" });
    stub.script(tokenReply({ access_token: "on-request" }));
    expect(await rotate(credential.id)).toMatchObject({ credential: { status: "ACTIVE" } });
    expect(stub.requests).toHaveLength(1);
  });

  it("serves a caller who needs more validity than the refresh it would join", async () => {
    const credential = await oauth2(secondsFromNow(30));
    stub.script(
      tokenReply({ access_token: "short-lived", expires_in: 120 }),
      tokenReply({ access_token: "long-lived", expires_in: 3600 }),
    );
    const refresher = app.keyport.services.refresher;
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let arrived!: () => void;
    const firstResponse = new Promise<void>((resolve) => {
      arrived = resolve;
    });
    refresher.onTokenResponse = async () => {
      arrived();
      await held;
    };
    try {
      const short = acquire(credential.id, 60);
      await firstResponse;
      refresher.onTokenResponse = null;
      const long = acquire(credential.id, 600);
      await sleep(50);
      release();
      expect(await short).toMatchObject({ headers: [{ value: "Bearer short-lived" }] });
      expect(await long).toMatchObject({ headers: [{ value: "Bearer long-lived" }] });
    } finally {
      refresher.onTokenResponse = null;
      release();
    }
    expect(stub.requests).toHaveLength(2);
  });
});

describe("background sweeper", () => {
  let app: TestApp;
  let stub: TokenStub;
  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({ env: { REFRESH_FAILURE_BACKOFF: "1m", REFRESH_KEEPALIVE: "1h" } }),
      startTokenStub(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  it("is not starved by expired credentials it cannot refresh, counts only real refreshes, and moves failures to the back", async () => {
    const prisma = app.database.prisma;
    // 60 expired credentials without a refresh token: nothing the sweeper can do for them.
    for (let i = 0; i < 60; i++) {
      await createCredential(app, {
        name: `stale ${i}`,
        oauth2: {
          clientId: "c",
          authorizationUrl: "https://provider.example/authorize",
          tokenUrl: stub.tokenUrl,
          accessToken: `stale-access-${i}`,
          expiresAt: secondsFromNow(-3600 - i).toISOString(),
        },
      });
    }
    const due = await createCredential(app, {
      name: "due client credentials",
      verify: false,
      clientCredentials: { clientId: "cc", clientSecret: "cc-secret", tokenUrl: stub.tokenUrl },
    });
    const failing = await createCredential(app, {
      name: "failing",
      oauth2: {
        clientId: "c",
        clientSecret: "s",
        authorizationUrl: "https://provider.example/authorize",
        tokenUrl: stub.tokenUrl.replace("/token", "/failing"),
        accessToken: "failing-access",
        refreshToken: "failing-refresh",
        expiresAt: secondsFromNow(-7200).toISOString(),
      },
    });
    stub.script((request) =>
      request.path === "/failing" ? { status: 503 } : tokenReply({ access_token: "swept" }),
    );
    expect(await app.keyport.services.refresher.sweep()).toBe(1);
    expect(stub.requests.filter((r) => r.path === "/token")).toHaveLength(1);
    expect(stub.requests.filter((r) => r.path === "/failing")).toHaveLength(3);
    const dueRow = await prisma.credential.findUniqueOrThrow({ where: { id: rawId(due.id) } });
    expect(dueRow.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 3000_000);
    const failingRow = await prisma.credential.findUniqueOrThrow({
      where: { id: rawId(failing.id) },
    });
    expect(failingRow.status).toBe("DEGRADED");
    expect(failingRow.nextRefreshAt?.getTime()).toBeGreaterThan(Date.now());
    // The next sweep leaves the failing one alone until its backoff ends, and the rest is fresh.
    stub.script(tokenReply({ access_token: "again" }));
    expect(await app.keyport.services.refresher.sweep()).toBe(0);
    expect(stub.requests).toHaveLength(0);
  });

  it("keeps an idle refresh token alive after REFRESH_KEEPALIVE", async () => {
    const prisma = app.database.prisma;
    const idle = await createCredential(app, {
      name: "idle",
      oauth2: {
        clientId: "c",
        clientSecret: "s",
        authorizationUrl: "https://provider.example/authorize",
        tokenUrl: stub.tokenUrl,
        accessToken: "idle-access",
        refreshToken: "idle-refresh",
        expiresAt: secondsFromNow(7200).toISOString(),
      },
    });
    stub.script(tokenReply({ access_token: "kept-alive", refresh_token: "idle-refresh-2" }));
    expect(await app.keyport.services.refresher.sweep()).toBe(0);
    await prisma.credential.update({
      where: { id: rawId(idle.id) },
      data: { lastRefreshedAt: secondsFromNow(-3601) },
    });
    expect(await app.keyport.services.refresher.sweep()).toBe(1);
    expect(stub.requests.map((r) => r.form.refresh_token)).toEqual(["idle-refresh"]);
    const row = await prisma.credential.findUniqueOrThrow({ where: { id: rawId(idle.id) } });
    expect(row.lastRefreshedAt?.getTime()).toBeGreaterThan(Date.now() - 10_000);
  });
});

describe("negative cache across instances", () => {
  it("bounds the token calls of three instances while the provider is down", {
    timeout: 90_000,
  }, async () => {
    const stub = await startTokenStub();
    const cluster = await startCluster(3, {
      REFRESH_FAILURE_BACKOFF: "1s",
      TOKEN_REQUEST_TIMEOUT_MS: "500",
    });
    try {
      const [first] = cluster.instances;
      if (!first) throw new Error("no instance");
      const viewer = await graphqlRequest(first, cluster.adminKey, ViewerQuery, undefined as never);
      const environmentId = viewer.data?.viewer.workspace.environments.find(
        (e) => e.slug === "development",
      )?.id;
      const created = await graphqlRequest(first, cluster.adminKey, CreateCredentialMutation, {
        input: {
          name: "down",
          environmentId: environmentId ?? "",
          verify: false,
          clientCredentials: { clientId: "cc", clientSecret: "s", tokenUrl: stub.tokenUrl },
        },
      });
      const payload = created.data?.createCredential;
      if (payload?.__typename !== "CreateCredentialSuccess") throw new Error("create failed");
      const id = payload.credential.id;
      stub.script({ status: 503 });
      const seconds = 3;
      const until = Date.now() + seconds * 1000;
      let acquires = 0;
      await Promise.all(
        cluster.instances.map(async (instance) => {
          while (Date.now() < until) {
            await graphqlRequest(instance, cluster.adminKey, AcquireHeadersMutation, {
              input: { credentialId: id },
            });
            acquires++;
            await sleep(50);
          }
        }),
      );
      // One failed refresh (3 attempts) per backoff period, whichever instance makes it.
      const bound = 3 * (seconds + 2);
      const calls = stub.requests.length;
      expect(acquires, "acquires made").toBeGreaterThan(10);
      expect(calls, `token calls for ${acquires} acquires`).toBeGreaterThanOrEqual(3);
      expect(calls, `token calls for ${acquires} acquires`).toBeLessThanOrEqual(bound);
    } finally {
      await cluster.close();
      await stub.close();
    }
  });
});
