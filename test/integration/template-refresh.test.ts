// Bearer credentials whose token comes from a configured token request (refreshRequest): it
// refreshes through the same leased single-flight refresher as OAuth, fills in its placeholders
// by context, keeps a rotated refresh token, records every run without a value, and goes through
// the outbound policy. A non-standard token endpoint on 127.0.0.1 plays the provider.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutboundLookup } from "../../src/lib/outbound.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { environmentIds } from "../helpers/credentials.js";
import {
  CreateTemplateCredentialMutation,
  TemplateCredentialQuery,
  UpdateTemplateCredentialMutation,
} from "../helpers/template-documents.js";
import { type RecordedRequest, startTokenStub, type TokenStub } from "../helpers/token-stub.js";

const past = () => new Date(Date.now() - 60_000).toISOString();
let counter = 0;
const unique = (label: string) => `${label}-${++counter}-${Math.random().toString(36).slice(2)}`;

/** The endpoint's answer: nested, nothing like an OAuth token response. */
const nested = (access: string, refresh: string | null, expiresIn = 3600) => ({
  status: 200,
  body: {
    ok: true,
    data: { tokens: { access, ...(refresh ? { refresh } : {}) }, ttl: expiresIn },
  },
});

const jsonTemplate = (endpoint: string, extra: Record<string, unknown> = {}) => ({
  endpoint,
  method: "POST",
  headers: [
    { name: "Content-Type", value: "application/json" },
    { name: "X-Api-Key", value: "template-header-canary-7f3a" },
  ],
  body: '{"grant":"refresh","refresh":"{{refreshToken}}","client":"{{clientId}}","secret":"{{clientSecret}}","note":"template-body-canary-91bc"}',
  accessTokenPath: "data.tokens.access",
  refreshTokenPath: "data.tokens.refresh",
  expiresInPath: "data.ttl",
  ...extra,
});

describe("bearer token requests (refreshRequest)", () => {
  let app: TestApp;
  let stub: TokenStub;
  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({ env: { TOKEN_REQUEST_TIMEOUT_MS: "2000", REFRESH_FAILURE_BACKOFF: "1s" } }),
      startTokenStub(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  const create = async (bearer: Record<string, unknown>) => {
    const result = dataOf(
      await app.execute(CreateTemplateCredentialMutation, {
        input: {
          name: unique("template"),
          environmentId: (await environmentIds(app)).development as string,
          bearer: {
            clientId: "client-default",
            clientSecret: "secret-default",
            ...bearer,
          } as never,
        },
      }),
    ).createCredential;
    if (result.__typename !== "CreateCredentialSuccess") {
      throw new Error(`not created: ${JSON.stringify(result)}`);
    }
    const credential = result.credential;
    if (!("id" in credential)) throw new Error("not a bearer credential");
    return credential;
  };
  const acquire = async (credentialId: string) =>
    dataOf(
      await app.execute(AcquireHeadersMutation, {
        input: { credentialId, minValiditySeconds: 60 },
      }),
    ).acquireCredentialHeaders;
  const read = async (id: string) => {
    const credential = dataOf(await app.execute(TemplateCredentialQuery, { id })).credential;
    if (!credential || !("history" in credential)) throw new Error("not found");
    return credential;
  };
  const authorization = (result: Awaited<ReturnType<typeof acquire>>) =>
    result.__typename === "AcquireCredentialHeadersSuccess"
      ? result.headers.find((h) => h.name === "Authorization")?.value
      : `(${result.__typename})`;

  it("refreshes an expired token on acquire through a nested JSON response, keeps the rotated refresh token, and records the run without values", async () => {
    const canaries = new Set([
      "expired-token-canary-2b8e",
      "refresh-token-canary-1-c0d4",
      "client-secret-canary-55e1",
      "template-header-canary-7f3a",
      "template-body-canary-91bc",
      "new-access-canary-1-a9f2",
      "new-refresh-canary-2-3c7d",
      "new-access-canary-2-e81b",
    ]);
    const credential = await create({
      token: "expired-token-canary-2b8e",
      expiresAt: past(),
      refreshToken: "refresh-token-canary-1-c0d4",
      clientId: "client-17",
      clientSecret: "client-secret-canary-55e1",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    // Header and body values that are more than placeholders are shown masked, never as values.
    expect(credential.refreshRequest?.headers).toEqual([
      { name: "Content-Type", value: "••••••••" },
      { name: "X-Api-Key", value: "••••••••" },
    ]);
    expect(credential.refreshRequest?.body).toBe("••••••••");
    expect(credential.clientId).toBe("client-17");
    expect(credential.clientSecret?.isSet).toBe(true);

    stub.script(nested("new-access-canary-1-a9f2", "new-refresh-canary-2-3c7d"));
    expect(authorization(await acquire(credential.id))).toBe("Bearer new-access-canary-1-a9f2");
    expect(stub.requests).toHaveLength(1);
    const first = stub.requests[0] as RecordedRequest;
    expect(first.headers["x-api-key"]).toBe("template-header-canary-7f3a");
    expect(JSON.parse(first.body)).toEqual({
      grant: "refresh",
      refresh: "refresh-token-canary-1-c0d4",
      client: "client-17",
      secret: "client-secret-canary-55e1",
      note: "template-body-canary-91bc",
    });

    // Still valid: served from the store, no call.
    expect(authorization(await acquire(credential.id))).toBe("Bearer new-access-canary-1-a9f2");
    expect(stub.requests).toHaveLength(1);

    // Expire it again: the next call sends the rotated refresh token.
    await app.database.prisma.credential.update({
      where: { id: rawId(credential.id) },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    stub.script(nested("new-access-canary-2-e81b", null));
    expect(authorization(await acquire(credential.id))).toBe("Bearer new-access-canary-2-e81b");
    expect(JSON.parse((stub.requests[0] as RecordedRequest).body).refresh).toBe(
      "new-refresh-canary-2-3c7d",
    );

    const after = await read(credential.id);
    expect(after.status).toBe("ACTIVE");
    expect(new Date(String(after.expiresAt)).getTime()).toBeGreaterThan(Date.now() + 3500_000);
    const runs = after.history.edges
      .map((edge) => edge.node)
      .filter((event) => event.attempt?.action === "TOKEN_REQUEST");
    expect(runs).toHaveLength(2);
    // Newest first: the second run had no refresh token in its response.
    expect(runs.map((run) => run.attempt)).toEqual([
      expect.objectContaining({
        outcome: "SUCCESS",
        httpStatus: 200,
        errorCode: null,
        updatedFields: ["accessToken", "expiresAt"],
      }),
      expect.objectContaining({
        outcome: "SUCCESS",
        httpStatus: 200,
        errorCode: null,
        updatedFields: ["accessToken", "refreshToken", "expiresAt"],
      }),
    ]);
    for (const run of runs) {
      expect(run.type).toBe("REFRESHED");
      expect(run.attempt?.durationMs).toEqual(expect.any(Number));
    }

    const prisma = app.database.prisma;
    const places = {
      credential: JSON.stringify(after),
      logs: app.logs.join("\n"),
      auditEvents: JSON.stringify(await prisma.auditEvent.findMany()),
      credentialEvents: JSON.stringify(await prisma.credentialEvent.findMany(), (_key, value) =>
        typeof value === "bigint" ? value.toString() : value,
      ),
      settings: JSON.stringify(await prisma.credential.findMany({ select: { settings: true } })),
    };
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      [...canaries].filter((canary) => text.includes(canary)).map((canary) => ({ place, canary })),
    );
    expect(leaks).toEqual([]);
  });

  it("makes exactly one token call for 200 concurrent acquires of an expired credential", async () => {
    const credential = await create({
      token: "storm-old",
      expiresAt: past(),
      refreshToken: "storm-refresh",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    stub.script(nested("storm-new", "storm-refresh-2"));
    const results = await Promise.all(
      Array.from({ length: 200 }, () => acquire(credential.id).then(authorization)),
    );
    expect(new Set(results)).toEqual(new Set(["Bearer storm-new"]));
    expect(stub.requests).toHaveLength(1);
  });

  it("escapes placeholders by context: a refresh token with quotes, ampersands and equals signs arrives intact", async () => {
    const tricky = 'r"e&f=re\\sh+tok en%';
    const json = await create({
      token: "escape-json-old",
      expiresAt: past(),
      refreshToken: tricky,
      clientId: "client&id=1",
      refreshRequest: jsonTemplate(`${stub.tokenUrl}?client={{clientId}}`),
    });
    stub.script(nested("escape-json-new", null));
    expect(authorization(await acquire(json.id))).toBe("Bearer escape-json-new");
    const jsonRequest = stub.requests[0] as RecordedRequest;
    expect(JSON.parse(jsonRequest.body).refresh).toBe(tricky);
    expect(JSON.parse(jsonRequest.body).client).toBe("client&id=1");
    expect(new URL(jsonRequest.path, "http://x").searchParams.get("client")).toBe("client&id=1");

    const form = await create({
      token: "escape-form-old",
      expiresAt: past(),
      refreshToken: tricky,
      refreshRequest: {
        endpoint: stub.tokenUrl,
        headers: [{ name: "Content-Type", value: "application/x-www-form-urlencoded" }],
        body: "grant_type=refresh&token={{refreshToken}}&x=1",
        accessTokenPath: "data.tokens.access",
        accessTokenDurationMinutes: 30,
      },
    });
    stub.script(nested("escape-form-new", null));
    expect(authorization(await acquire(form.id))).toBe("Bearer escape-form-new");
    const formRequest = stub.requests[0] as RecordedRequest;
    expect(formRequest.form).toEqual({ grant_type: "refresh", token: tricky, x: "1" });
    // No expiry path: the fixed duration applies.
    const expiresAt = new Date(String((await read(form.id)).expiresAt)).getTime();
    expect(expiresAt).toBeGreaterThan(Date.now() + 29 * 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 30 * 60_000);
  });

  it("reports a response without the mapped access token as a typed failure and loses nothing", async () => {
    const credential = await create({
      token: "mapping-old",
      expiresAt: past(),
      refreshToken: "mapping-refresh",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    stub.script({ status: 200, body: { data: { token: "elsewhere" } } });
    expect(await acquire(credential.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "DEGRADED",
      reason: { code: "TOKEN_REFRESH_FAILED" },
    });
    expect(stub.requests).toHaveLength(1);
    const after = await read(credential.id);
    expect(after.refreshToken?.isSet).toBe(true);
    const failed = after.history.edges.find((edge) => edge.node.type === "REFRESH_FAILED")?.node;
    expect(failed?.attempt).toMatchObject({
      action: "TOKEN_REQUEST",
      outcome: "FAILURE",
      httpStatus: 200,
      errorCode: "TOKEN_REFRESH_FAILED",
      updatedFields: [],
    });
    // Once the backoff passed, the same refresh token works.
    await app.database.prisma.credential.update({
      where: { id: rawId(credential.id) },
      data: { nextRefreshAt: null },
    });
    stub.script(nested("mapping-new", null));
    expect(authorization(await acquire(credential.id))).toBe("Bearer mapping-new");
    expect(JSON.parse((stub.requests[0] as RecordedRequest).body).refresh).toBe("mapping-refresh");
  });

  it("makes a 401 final (INVALID) and a 503 an outage (DEGRADED)", async () => {
    const refused = await create({
      token: "refused-old",
      expiresAt: past(),
      refreshToken: "refused-refresh",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    stub.script({ status: 401, body: { message: "nope" } });
    expect(await acquire(refused.id)).toMatchObject({
      status: "INVALID",
      reason: { code: "INVALID_CREDENTIALS" },
    });
    expect(stub.requests).toHaveLength(1);

    const outage = await create({
      token: "outage-old",
      expiresAt: past(),
      refreshToken: "outage-refresh",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    stub.script({ status: 503 });
    expect(await acquire(outage.id)).toMatchObject({
      status: "DEGRADED",
      reason: { code: "PROVIDER_UNAVAILABLE" },
    });
    expect(stub.requests).toHaveLength(3);
  });

  it("needs the refresh token and client secret again when the endpoint changes, and replaces the template's secrets", async () => {
    const credential = await create({
      token: "move-old",
      refreshToken: "move-refresh",
      clientSecret: "move-secret",
      refreshRequest: jsonTemplate(stub.tokenUrl),
    });
    const moved = `${stub.tokenUrl}?moved=1`;
    const refused = dataOf(
      await app.execute(UpdateTemplateCredentialMutation, {
        input: { id: credential.id, bearer: { refreshRequest: jsonTemplate(moved) as never } },
      }),
    ).updateCredential;
    expect(refused).toMatchObject({ __typename: "ValidationError" });
    const paths =
      refused.__typename === "ValidationError"
        ? refused.fieldErrors.map((error) => error.path.join("."))
        : [];
    expect(paths.sort()).toEqual(["input.bearer.clientSecret", "input.bearer.refreshToken"]);

    const updated = dataOf(
      await app.execute(UpdateTemplateCredentialMutation, {
        input: {
          id: credential.id,
          bearer: {
            refreshToken: "move-refresh-2",
            clientSecret: "move-secret-2",
            refreshRequest: {
              ...jsonTemplate(moved),
              headers: [{ name: "Content-Type", value: "application/json" }],
            } as never,
          },
        },
      }),
    ).updateCredential;
    expect(updated.__typename).toBe("UpdateCredentialSuccess");
    const fields = (
      await app.database.prisma.credentialSecret.findMany({
        where: { credentialId: rawId(credential.id) },
        select: { field: true },
      })
    )
      .map((row) => row.field)
      .sort();
    // The old X-Api-Key header's secret row is gone with the header.
    const expected = [
      "clientSecret",
      "refreshRequest.body",
      "refreshRequest.header.0",
      "refreshToken",
      "token",
    ];
    expect(fields).toEqual(expected);

    // An update that leaves the template alone leaves its secrets alone.
    const renamed = dataOf(
      await app.execute(UpdateTemplateCredentialMutation, {
        input: { id: credential.id, bearer: { scheme: "Token" } },
      }),
    ).updateCredential;
    expect(renamed.__typename).toBe("UpdateCredentialSuccess");
    const kept = await app.database.prisma.credentialSecret.findMany({
      where: { credentialId: rawId(credential.id) },
      select: { field: true },
    });
    expect(kept.map((row) => row.field).sort()).toEqual(expected);
  });
});

describe("bearer token requests and the outbound policy", () => {
  let app: TestApp;
  let stub: TokenStub;
  const madeUpNames: OutboundLookup = async (hostname) => {
    if (hostname.endsWith(".keyport.test")) return [{ address: "127.0.0.1", family: 4 }];
    throw new Error("ENOTFOUND");
  };
  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({ env: { OUTBOUND_ALLOW: "" }, outboundLookup: madeUpNames }),
      startTokenStub(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  it("refuses a token request to an address the policy does not admit: ENDPOINT_NOT_ALLOWED, no connection", async () => {
    const endpoint = `http://idp.keyport.test:${new URL(stub.tokenUrl).port}/token`;
    const created = dataOf(
      await app.execute(CreateTemplateCredentialMutation, {
        input: {
          name: "refused",
          environmentId: (await environmentIds(app)).development as string,
          bearer: {
            token: "refused-old",
            expiresAt: past(),
            refreshToken: "refused-refresh",
            clientId: "client",
            clientSecret: "secret",
            refreshRequest: jsonTemplate(endpoint) as never,
          },
        },
      }),
    ).createCredential;
    if (created.__typename !== "CreateCredentialSuccess" || !("id" in created.credential)) {
      throw new Error(`not created: ${JSON.stringify(created)}`);
    }
    stub.script(nested("must-not-be-issued", null));
    const result = dataOf(
      await app.execute(AcquireHeadersMutation, {
        input: { credentialId: created.credential.id, minValiditySeconds: 60 },
      }),
    ).acquireCredentialHeaders;
    expect(result).toMatchObject({
      __typename: "CredentialNotUsableError",
      reason: { code: "ENDPOINT_NOT_ALLOWED" },
    });
    expect(stub.requests).toHaveLength(0);
  });
});

function rawId(globalId: string) {
  return Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");
}
