// The provider catalog end to end: the catalog queries, verification before save against fake
// provider APIs on loopback (one PROVIDERS_DIR entry per situation), provider quirks (token in the
// path, subdomain variables, Google-style authorization parameters and scope spellings),
// testCredential and the background re-check of idle static credentials.

import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { createKey, environmentIds } from "../helpers/credentials.js";
import { closedPort, type FakeProvider, startFakeProvider } from "../helpers/fake-provider.js";
import {
  CreateProviderCredentialMutation,
  ProviderCredentialQuery,
  ProviderQuery,
  ProvidersQuery,
  TestCredentialMutation,
} from "../helpers/provider-documents.js";
import { seedProviderKeys } from "../helpers/seed-providers.js";
import { startTokenStub, type TokenStub, tokenReply } from "../helpers/token-stub.js";

const ProviderAuthorizeMutation = graphql(`
  mutation ProviderAuthorize($input: AuthorizeCredentialInput!) {
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

const ProviderCompleteMutation = graphql(`
  mutation ProviderComplete($input: CompleteAuthorizationInput!) {
    completeAuthorization(input: $input) {
      __typename
      ... on Error {
        message
      }
    }
  }
`);

// Canaries: secrets that must never show up in a response, a log line or an event.
const goodToken = `good-${randomBytes(12).toString("hex")}`;
const telegramToken = `123456789:${randomBytes(24).toString("hex")}`;
const agentEmail = "agent@example.com";
const apiToken = `zd-${randomBytes(12).toString("hex")}`;
const clientSecret = `google-secret-${randomBytes(8).toString("hex")}`;
const gmailReadonly = "https://www.googleapis.com/auth/gmail.readonly";
const userinfoEmail = "https://www.googleapis.com/auth/userinfo.email";

let fake: FakeProvider;
let stub: TokenStub;
let app: TestApp;
let providersDir: string;
let writer: string;
let tester: string;
let developmentId: string;

beforeAll(async () => {
  [fake, stub] = await Promise.all([
    startFakeProvider({
      goodToken,
      botToken: telegramToken,
      basicUser: `${agentEmail}/token`,
      basicPassword: apiToken,
    }),
    startTokenStub(),
  ]);
  const refused = await closedPort();
  providersDir = await mkdtemp(path.join(os.tmpdir(), "keyport-providers-"));
  const files: Record<string, string> = {
    "fakeapi.yaml": `
key: fakeapi
name: Fake API
connectionVariables:
  - { name: outcome, label: Outcome, pattern: "^[a-z]+$" }
auth:
  - kind: BEARER
verify:
  url: ${fake.base}/verify/{outcome}
  expectJson: { path: ok, equals: true }
`,
    "fakerefused.yaml": `
key: fakerefused
name: Fake API that is down
auth: [{ kind: BEARER }]
verify: { url: "http://127.0.0.1:${refused}/verify/ok" }
`,
    // 127.0.0.2 is loopback, but OUTBOUND_ALLOW below admits only 127.0.0.1.
    "fakedenied.yaml": `
key: fakedenied
name: Fake API on a refused address
auth: [{ kind: BEARER }]
verify: { url: "http://127.0.0.2:${fake.port}/verify/ok" }
`,
    "faketelegram.yaml": `
key: faketelegram
name: Fake Telegram
auth:
  - kind: BEARER
    placement: { in: PATH }
    fields:
      - { name: token, label: Bot token, secret: true, pattern: "^[0-9]{5,16}:[A-Za-z0-9_-]{30,64}$" }
verify:
  url: ${fake.base}/bot{token}/getMe
  expectJson: { path: ok, equals: true }
`,
    "fakedesk.yaml": `
key: fakedesk
name: Fake Zendesk
connectionVariables:
  - { name: subdomain, label: Subdomain, pattern: "^[a-z0-9-]+$" }
auth:
  - kind: BASIC
    usernameFormat: "{username}/token"
    fields:
      - { name: username, label: Agent email, type: email, pattern: "^[^@]+@[^@]+$" }
      - { name: password, label: API token, type: password, secret: true }
verify:
  url: http://{subdomain}.desk.test:${fake.port}/api/v2/users/me.json
`,
    "fakeslack.yaml": `
key: fakeslack
name: Fake Slack
auth:
  - kind: OAUTH2
    authorizationUrl: https://slack.provider.example/oauth/v2/authorize
    tokenUrl: ${stub.tokenUrl}
    pkce: false
    tokenResponse: { keep: [team.id, team.name, bot_user_id], accountId: team.id }
scopes:
  default: [channels:read, chat:write]
  separator: ","
`,
    "fakegoogle.yaml": `
key: fakegoogle
name: Fake Google
auth:
  - kind: OAUTH2
    authorizationUrl: https://accounts.provider.example/o/oauth2/v2/auth
    tokenUrl: ${stub.tokenUrl}
    tokenEndpointAuthMethod: CLIENT_SECRET_POST
    authorizationParams: { access_type: offline, prompt: consent }
scopes:
  default: [${gmailReadonly}, ${userinfoEmail}]
  required: [${gmailReadonly}]
  aliases:
    email: ${userinfoEmail}
    gmail.readonly: ${gmailReadonly}
`,
  };
  for (const [name, text] of Object.entries(files)) {
    await writeFile(path.join(providersDir, name), text);
  }
  app = await startTestApp({
    env: {
      PROVIDERS_DIR: providersDir,
      OUTBOUND_ALLOW: "127.0.0.1",
      TOKEN_REQUEST_TIMEOUT_MS: "1000",
      VERIFY_SWEEP_INTERVAL: "0",
      PUBLIC_URL: "http://keyport.test",
    },
    // Every *.desk.test host is the fake provider.
    outboundLookup: async (hostname) => {
      if (hostname.endsWith(".desk.test")) return [{ address: "127.0.0.1", family: 4 }];
      throw new Error(`unexpected lookup of ${hostname}`);
    },
  });
  writer = await createKey(app, ["credentials:read", "credentials:write"]);
  tester = await createKey(app, ["credentials:use"]);
  developmentId = (await environmentIds(app)).development ?? "";
});

afterAll(async () => {
  await Promise.all([app?.close(), fake?.close(), stub?.close()]);
  if (providersDir) await rm(providersDir, { recursive: true, force: true });
});

let counter = 0;
const unique = (label: string) => `${label}-${++counter}`;

type CreateInput = Parameters<typeof app.execute<unknown, { input: Record<string, unknown> }>>[1];
async function create(input: Record<string, unknown>) {
  const result = await app.execute(
    CreateProviderCredentialMutation,
    { input: { name: unique("provider"), environmentId: developmentId, ...input } } as never,
    { key: writer },
  );
  return dataOf(result).createCredential;
}
void (null as unknown as CreateInput);

async function stored() {
  const prisma = app.database.prisma;
  return {
    credentials: await prisma.credential.count(),
    secrets: await prisma.credentialSecret.count(),
    events: await prisma.credentialEvent.count(),
  };
}

const rawId = (globalId: string) =>
  Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");

function expectNoCanary(value: unknown) {
  const text = JSON.stringify(value);
  for (const canary of [goodToken, telegramToken, apiToken, clientSecret]) {
    expect(text).not.toContain(canary);
  }
}

describe("the catalog", () => {
  it("lists the shipped providers and the PROVIDERS_DIR ones, with their forms", async () => {
    const providers = dataOf(await app.execute(ProvidersQuery, {}, { key: writer })).providers;
    const keys = providers.map((p) => p.key);
    for (const key of [...seedProviderKeys, "fakeapi"]) {
      expect(keys).toContain(key);
    }
    expect(providers.find((p) => p.key === "slack")?.scopes.separator).toBe(",");
    expect(providers.find((p) => p.key === "telegram")).toMatchObject({
      authKinds: ["BEARER"],
      verifiable: true,
      fields: [{ name: "token", secret: true, required: true, location: "CREDENTIAL_INPUT" }],
    });
    const basicOnly = dataOf(
      await app.execute(ProvidersQuery, { filter: { authKind: "BASIC" } }, { key: writer }),
    ).providers;
    expect(basicOnly.map((p) => p.key)).toEqual(["fakedesk", "zendesk"]);
  });

  it("describes one provider: connection variables first, per-kind fields and behaviour", async () => {
    const zendesk = dataOf(
      await app.execute(ProviderQuery, { key: "zendesk", authKind: "BASIC" }, { key: writer }),
    ).provider;
    expect(zendesk?.connectionVariables).toEqual([
      { name: "subdomain", required: true, pattern: "^[a-z0-9][a-z0-9-]{0,62}$" },
    ]);
    expect(zendesk?.fields.map((f) => [f.name, f.location, f.secret])).toEqual([
      ["subdomain", "CONNECTION_CONFIG", false],
      ["username", "CREDENTIAL_INPUT", false],
      ["password", "CREDENTIAL_INPUT", true],
    ]);
    const amo = dataOf(
      await app.execute(ProviderQuery, { key: "amocrm" }, { key: writer }),
    ).provider;
    expect(amo?.authMethods[0]).toMatchObject({
      kind: "OAUTH2",
      tokenUrl: "https://{subdomain}.amocrm.ru/oauth2/access_token",
      refreshTokensSingleUse: true,
    });
    const notion = dataOf(
      await app.execute(ProviderQuery, { key: "notion" }, { key: writer }),
    ).provider;
    expect(notion?.authMethods[0]?.tokensExpire).toBe(false);
    const linear = dataOf(
      await app.execute(ProviderQuery, { key: "linear" }, { key: writer }),
    ).provider;
    expect(linear?.authMethods[0]?.placement).toEqual({
      placement: "HEADER",
      headerName: "Authorization",
      scheme: "",
    });
    expect(
      dataOf(await app.execute(ProviderQuery, { key: "nope" }, { key: writer })).provider,
    ).toBeNull();
  });

  it("is readable with credentials:read or credentials:write only", async () => {
    const connectorsOnly = await createKey(app, ["connectors:read"]);
    const refused = await app.execute(ProvidersQuery, {}, { key: connectorsOnly });
    expect(refused.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    const reader = await createKey(app, ["credentials:read"]);
    const all = dataOf(await app.execute(ProvidersQuery, {}, { key: writer })).providers;
    expect(dataOf(await app.execute(ProvidersQuery, {}, { key: reader })).providers).toEqual(all);
  });
});

describe("verification before save", () => {
  it("stores a credential the provider accepts, VERIFIED with lastVerifiedAt", async () => {
    const created = await create({
      providerKey: "fakeapi",
      connectionConfig: { outcome: "ok" },
      bearer: { token: goodToken },
    });
    expectNoCanary(created);
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    expect(created.credential).toMatchObject({
      status: "ACTIVE",
      providerKey: "fakeapi",
      connectionConfig: { outcome: "ok" },
      provider: { key: "fakeapi", name: "Fake API" },
    });
    expect(created.credential.lastVerifiedAt).not.toBeNull();
    const read = dataOf(
      await app.execute(ProviderCredentialQuery, { id: created.credential.id }, { key: writer }),
    ).credential;
    expect(read?.history.edges.map((e) => e.node.type)).toContain("VERIFIED");
  });

  const outcomes: [string, Record<string, unknown>, string, number | null][] = [
    [
      "a rejected token (401)",
      { outcome: "ok", token: "wrong-token-value" },
      "INVALID_CREDENTIALS",
      401,
    ],
    ["401", { outcome: "unauthorized" }, "INVALID_CREDENTIALS", 401],
    ["403", { outcome: "forbidden" }, "INSUFFICIENT_SCOPES", 403],
    ["429", { outcome: "ratelimited" }, "RATE_LIMITED", 429],
    ["500", { outcome: "broken" }, "PROVIDER_UNAVAILABLE", 500],
    ["a timeout", { outcome: "slow" }, "PROVIDER_UNAVAILABLE", null],
    ["200 without the expected answer", { outcome: "okfalse" }, "INVALID_CREDENTIALS", 200],
    ["a refused port", { providerKey: "fakerefused" }, "CONNECTION_REFUSED", null],
    ["an address the policy refuses", { providerKey: "fakedenied" }, "ENDPOINT_NOT_ALLOWED", null],
  ];
  for (const [label, given, code, httpStatus] of outcomes) {
    it(`reports ${label} as ${code} and stores nothing`, async () => {
      const before = await stored();
      const logsBefore = app.logs.length;
      const providerKey = (given.providerKey as string | undefined) ?? "fakeapi";
      const result = await create({
        providerKey,
        ...(providerKey === "fakeapi" ? { connectionConfig: { outcome: given.outcome } } : {}),
        bearer: { token: (given.token as string | undefined) ?? goodToken },
      });
      expect(result).toMatchObject({ __typename: "CredentialVerificationError", code, httpStatus });
      expect(await stored()).toEqual(before);
      expectNoCanary(result);
      expectNoCanary(app.logs.slice(logsBefore));
    });
  }

  it("skips the call with verify: false", async () => {
    const created = await create({
      providerKey: "fakeapi",
      connectionConfig: { outcome: "unauthorized" },
      verify: false,
      bearer: { token: goodToken },
    });
    expect(created).toMatchObject({ __typename: "CreateCredentialSuccess" });
  });

  it("checks the form: required connection variables, patterns and unknown variables", async () => {
    const before = await stored();
    const result = await create({
      providerKey: "fakedesk",
      connectionConfig: { subdomain: "evil.example#", region: "eu" },
      basic: { username: "not-an-email", password: apiToken },
    });
    expect(result.__typename).toBe("ValidationError");
    const errors = result.__typename === "ValidationError" ? result.fieldErrors : [];
    expect(errors.map((e) => e.path.join("."))).toEqual(
      expect.arrayContaining([
        "input.connectionConfig.region",
        "input.connectionConfig.subdomain",
        "input.basic.username",
      ]),
    );
    expectNoCanary(result);
    const missing = await create({ providerKey: "fakedesk", basic: { username: agentEmail } });
    const paths =
      missing.__typename === "ValidationError"
        ? missing.fieldErrors.map((e) => e.path.join("."))
        : [];
    expect(paths).toEqual(
      expect.arrayContaining(["input.connectionConfig.subdomain", "input.basic.password"]),
    );
    const wrongKind = await create({
      providerKey: "faketelegram",
      basic: { username: "x", password: "y" },
    });
    expect(wrongKind.__typename).toBe("ValidationError");
    expect(await stored()).toEqual(before);
  });
});

describe("provider quirks", () => {
  it("Telegram-style: the token travels in the path, to the verify request and from acquire", async () => {
    const created = await create({ providerKey: "faketelegram", bearer: { token: telegramToken } });
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    expect(created.credential).toMatchObject({ placement: "PATH" });
    expect(fake.requests.some((r) => r.path === `/bot${telegramToken}/getMe`)).toBe(true);
    const acquired = dataOf(
      await app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: created.credential.id } },
        { key: await createKey(app, ["credentials:use"]) },
      ),
    ).acquireCredentialHeaders;
    expect(acquired).toMatchObject({
      headers: [],
      pathParameters: [{ name: "token", value: telegramToken }],
    });
    const malformed = await create({
      providerKey: "faketelegram",
      bearer: { token: "not a bot token" },
    });
    expect(malformed).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "bearer", "token"] }],
    });
  });

  it("Zendesk-style: the subdomain builds the URL and Basic carries email/token", async () => {
    const created = await create({
      providerKey: "fakedesk",
      connectionConfig: { subdomain: "acme" },
      basic: { username: agentEmail, password: apiToken },
    });
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    expect(created.credential).toMatchObject({
      username: `${agentEmail}/token`,
      connectionConfig: { subdomain: "acme" },
      lastVerifiedAt: expect.any(String),
    });
    const request = fake.requests.findLast((r) => r.path === "/api/v2/users/me.json");
    expect(request?.headers.host).toBe(`acme.desk.test:${fake.port}`);
    expect(request?.headers.authorization).toBe(
      `Basic ${Buffer.from(`${agentEmail}/token:${apiToken}`).toString("base64")}`,
    );
  });

  it("Google-style: the authorization URL carries access_type and prompt, and a short scope answer ends ACTIVE in the catalog's spelling", async () => {
    const created = await create({
      providerKey: "fakegoogle",
      oauth2: { clientId: "google-client", clientSecret },
    });
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    expect(created.credential).toMatchObject({
      status: "PENDING_AUTHORIZATION",
      authorizationUrl: "https://accounts.provider.example/o/oauth2/v2/auth",
      tokenUrl: stub.tokenUrl,
      scopes: [gmailReadonly, userinfoEmail],
      extraAuthorizationParams: { access_type: "offline", prompt: "consent" },
    });
    const started = dataOf(
      await app.execute(ProviderAuthorizeMutation, { input: { id: created.credential.id } }),
    ).authorizeCredential;
    if (started.__typename !== "AuthorizeCredentialSuccess")
      throw new Error(JSON.stringify(started));
    const url = new URL(started.authorizationUrl);
    expect(url.searchParams.get("access_type")).toBe("offline");
    expect(url.searchParams.get("prompt")).toBe("consent");
    expect(url.searchParams.get("scope")).toBe(`${gmailReadonly} ${userinfoEmail}`);

    stub.script(
      tokenReply({
        access_token: `access-${randomBytes(8).toString("hex")}`,
        refresh_token: `refresh-${randomBytes(8).toString("hex")}`,
        scope: "email gmail.readonly",
      }),
    );
    const completed = dataOf(
      await app.execute(ProviderCompleteMutation, {
        input: { state: started.state, code: `code-${randomBytes(6).toString("hex")}` },
      }),
    ).completeAuthorization;
    expect(completed.__typename).toBe("CompleteAuthorizationSuccess");
    const read = dataOf(
      await app.execute(ProviderCredentialQuery, { id: created.credential.id }, { key: writer }),
    ).credential;
    expect(read).toMatchObject({
      status: "ACTIVE",
      missingScopes: [],
      grantedScopes: [userinfoEmail, gmailReadonly],
    });
    expectNoCanary(read);
  });
});

describe("Slack-style OAuth", () => {
  it("joins scopes with commas, reads a comma-separated grant, and keeps team.id as the account id", async () => {
    const created = await create({
      providerKey: "fakeslack",
      oauth2: { clientId: "slack-client", clientSecret },
    });
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    expect(created.credential).toMatchObject({
      usePkce: false,
      scopes: ["channels:read", "chat:write"],
    });
    const started = dataOf(
      await app.execute(ProviderAuthorizeMutation, { input: { id: created.credential.id } }),
    ).authorizeCredential;
    if (started.__typename !== "AuthorizeCredentialSuccess")
      throw new Error(JSON.stringify(started));
    const url = new URL(started.authorizationUrl);
    expect(url.searchParams.get("scope")).toBe("channels:read,chat:write");
    expect(url.searchParams.has("code_challenge")).toBe(false);
    stub.script(
      tokenReply({
        access_token: `xoxb-${randomBytes(8).toString("hex")}`,
        scope: "channels:read,chat:write",
        bot_user_id: "U999",
        team: { id: "T123", name: "Acme", secret_note: "not kept" },
        authed_user: { id: "U1", access_token: "user-token-not-kept" },
      }),
    );
    const completed = dataOf(
      await app.execute(ProviderCompleteMutation, {
        input: { state: started.state, code: `code-${randomBytes(6).toString("hex")}` },
      }),
    ).completeAuthorization;
    expect(completed.__typename).toBe("CompleteAuthorizationSuccess");
    const read = dataOf(
      await app.execute(ProviderCredentialQuery, { id: created.credential.id }, { key: writer }),
    ).credential;
    expect(read).toMatchObject({
      status: "ACTIVE",
      grantedScopes: ["channels:read", "chat:write"],
      missingScopes: [],
      accountId: "T123",
      providerData: { "team.id": "T123", "team.name": "Acme", bot_user_id: "U999" },
    });
    expect(JSON.stringify(read)).not.toContain("user-token-not-kept");
  });
});

describe("testCredential and the idle re-check", () => {
  async function switchCredential() {
    fake.switchStatus = 200;
    const created = await create({
      providerKey: "fakeapi",
      connectionConfig: { outcome: "switch" },
      bearer: { token: goodToken },
    });
    if (created.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(created));
    return created.credential.id;
  }

  const history = async (id: string) =>
    dataOf(await app.execute(ProviderCredentialQuery, { id }, { key: writer })).credential;

  it("records VERIFIED and lastVerifiedAt, and the classified failure without changing status", async () => {
    const id = await switchCredential();
    await app.database.prisma.credential.update({
      where: { id: rawId(id) },
      data: { lastVerifiedAt: null },
    });
    const tested = dataOf(
      await app.execute(TestCredentialMutation, { input: { id } }, { key: tester }),
    ).testCredential;
    expect(tested).toMatchObject({ __typename: "TestCredentialSuccess", credentialId: id });
    const after = await history(id);
    expect(after?.lastVerifiedAt).not.toBeNull();
    expect(after?.history.edges[0]?.node).toMatchObject({
      type: "VERIFIED",
      attempt: { action: "VERIFY", outcome: "SUCCESS", httpStatus: 200 },
    });

    fake.switchStatus = 503;
    const failed = dataOf(
      await app.execute(TestCredentialMutation, { input: { id } }, { key: tester }),
    ).testCredential;
    expect(failed).toMatchObject({
      __typename: "CredentialVerificationError",
      code: "PROVIDER_UNAVAILABLE",
      httpStatus: 503,
    });
    const stillActive = await history(id);
    expect(stillActive?.status).toBe("ACTIVE");
    expect(stillActive?.history.edges[0]?.node).toMatchObject({
      type: "VERIFICATION_FAILED",
      reason: { code: "PROVIDER_UNAVAILABLE" },
    });
    expectNoCanary(stillActive);
  });

  it("re-checks idle static credentials: 503 leaves them ACTIVE, 401 makes them INVALID with an event", async () => {
    const id = await switchCredential();
    const old = new Date(Date.now() - 48 * 3_600_000);
    await app.database.prisma.credential.update({
      where: { id: rawId(id) },
      data: { createdAt: old, lastVerifiedAt: old, lastUsedAt: null },
    });
    const verifier = app.keyport.services.idleVerifier;

    fake.switchStatus = 503;
    expect(await verifier.sweep()).toBeGreaterThanOrEqual(1);
    const transient = await history(id);
    expect(transient?.status).toBe("ACTIVE");
    expect(transient?.history.edges[0]?.node.type).toBe("VERIFICATION_FAILED");

    fake.switchStatus = 401;
    await verifier.sweep();
    const invalid = await history(id);
    expect(invalid).toMatchObject({
      status: "INVALID",
      statusReason: { code: "INVALID_CREDENTIALS" },
    });
    expect(invalid?.history.edges.slice(0, 2).map((e) => e.node.type)).toEqual([
      "INVALIDATED",
      "VERIFICATION_FAILED",
    ]);
    expectNoCanary(invalid);
    expectNoCanary(app.logs);
  });
});
