// The outbound policy end to end: URL fields refused at input, refusals at request time surfacing
// as ENDPOINT_NOT_ALLOWED before any connection, discovery metadata checked like input, capped
// and time-limited discovery and JWKS fetches, and clamped provider numbers.
//
// Every server here listens on 127.0.0.1. Ranges outside loopback are only ever checked at input
// (no I/O); anything that could connect points at loopback, either refused through
// OUTBOUND_ALLOW="" or reached through an injected lookup that maps made-up names to 127.0.0.1.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OutboundLookup } from "../../src/lib/outbound.js";
import { graphql } from "../generated/index.js";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import { environmentIds } from "../helpers/credentials.js";
import { ViewerQuery } from "../helpers/documents.js";
import { startTokenStub, type TokenStub, tokenReply } from "../helpers/token-stub.js";

const OutboundCreate = graphql(`
  mutation OutboundCreate($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          __typename
          ... on CredentialBase {
            id
            status
          }
          ... on ClientCredentialsCredential {
            expiresAt
          }
        }
      }
      ... on CredentialProviderError {
        code
        message
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
    }
  }
`);

const OutboundUpdate = graphql(`
  mutation OutboundUpdate($input: UpdateCredentialInput!) {
    updateCredential(input: $input) {
      __typename
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
    }
  }
`);

const OutboundAuthorize = graphql(`
  mutation OutboundAuthorize($input: AuthorizeCredentialInput!) {
    authorizeCredential(input: $input) {
      __typename
      ... on AuthorizeCredentialSuccess {
        authorizationUrl
      }
      ... on CredentialProviderError {
        code
        message
      }
      ... on ValidationError {
        fieldErrors {
          path
          message
        }
      }
    }
  }
`);

const OutboundAcquire = graphql(`
  mutation OutboundAcquire($input: AcquireCredentialHeadersInput!) {
    acquireCredentialHeaders(input: $input) {
      __typename
      ... on CredentialNotUsableError {
        status
        reason {
          code
          message
        }
      }
    }
  }
`);

const OutboundCredential = graphql(`
  query OutboundCredential($id: ID!) {
    credential(id: $id) {
      ... on CredentialBase {
        status
        statusReason {
          code
          message
        }
        history(first: 10) {
          edges {
            node {
              type
              attempt {
                action
                errorCode
              }
            }
          }
        }
      }
    }
  }
`);

// --- a loopback authorization server whose metadata each test scripts -----------------------

type IssuerBehaviour = Record<string, unknown> | "hang" | "huge";
type IssuerServer = {
  origin: string;
  port: number;
  issuers: Map<string, IssuerBehaviour>;
  requests: string[];
  /** Bytes written for "huge" documents, per request. */
  hugeBytesSent: number[];
  close(): Promise<void>;
};

const HUGE_BYTES = 50 * 1024 * 1024;

async function startIssuerServer(): Promise<IssuerServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? "";
    result.requests.push(path);
    const rfc8414 = "/.well-known/oauth-authorization-server";
    const openid = "/.well-known/openid-configuration";
    const issuerPath = path.startsWith(rfc8414)
      ? path.slice(rfc8414.length)
      : path.endsWith(openid)
        ? path.slice(0, -openid.length)
        : null;
    const behaviour = issuerPath === null ? undefined : result.issuers.get(issuerPath);
    if (behaviour === undefined) {
      res.writeHead(404).end();
      return;
    }
    if (behaviour === "hang") return;
    if (behaviour === "huge") {
      const index = result.hugeBytesSent.push(0) - 1;
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      res.writeHead(200, { "content-type": "application/json" });
      res.write(`{"issuer":"${result.origin}${issuerPath}","padding":"`);
      const pump = () => {
        while ((result.hugeBytesSent[index] ?? 0) < HUGE_BYTES) {
          result.hugeBytesSent[index] = (result.hugeBytesSent[index] ?? 0) + chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end('"}');
      };
      pump();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify(behaviour));
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const result: IssuerServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    issuers: new Map(),
    requests: [],
    hugeBytesSent: [],
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return result;
}

/** Answers made-up names with 127.0.0.1 only. */
const madeUpNames: OutboundLookup = async (hostname) => {
  if (hostname.endsWith(".keyport.test")) return [{ address: "127.0.0.1", family: 4 }];
  throw new Error("ENOTFOUND");
};

const past = () => new Date(Date.now() - 60_000).toISOString();

async function create(app: TestApp, input: Record<string, unknown>) {
  const environmentId = (await environmentIds(app)).development;
  return dataOf(await app.execute(OutboundCreate, { input: { environmentId, ...input } as never }))
    .createCredential;
}

async function created(app: TestApp, input: Record<string, unknown>) {
  const result = await create(app, input);
  if (result.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(result));
  return result.credential;
}

describe("outbound policy", () => {
  let app: TestApp;
  let issuer: IssuerServer;
  let stub: TokenStub;
  beforeAll(async () => {
    [app, issuer, stub] = await Promise.all([
      startTestApp(),
      startIssuerServer(),
      startTokenStub(),
    ]);
  });
  afterAll(async () => {
    await Promise.all([app.close(), issuer.close(), stub.close()]);
  });

  describe("URL fields at input (no I/O)", () => {
    const refused = [
      "http://169.254.169.254/latest/meta-data/",
      "http://10.0.0.1/t",
      "http://172.16.5.4/t",
      "http://192.168.0.10/t",
      "http://100.64.0.1/t",
      "http://2852039166/",
      "http://[::ffff:a9fe:a9fe]/",
      "http://[::ffff:7f00:1]:8080/t",
      "http://[fd00::1]/t",
      "http://[fe80::1]/t",
      "http://0.0.0.0/t",
    ];

    async function fieldErrors(input: Record<string, unknown>) {
      const before = await app.database.prisma.credential.count();
      const result = await create(app, input);
      expect(await app.database.prisma.credential.count()).toBe(before);
      if (result.__typename !== "ValidationError") throw new Error(JSON.stringify(result));
      return result.fieldErrors;
    }

    it.each(refused)("refuses %s on every URL field", async (url) => {
      const oauth = { clientId: "c", authorizationUrl: "https://a.example/a" };
      const cases: [Record<string, unknown>, string][] = [
        [
          { clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: url } },
          "input.clientCredentials.tokenUrl",
        ],
        [{ oauth2: { ...oauth, tokenUrl: url } }, "input.oauth2.tokenUrl"],
        [
          { oauth2: { ...oauth, tokenUrl: "https://a.example/t", authorizationUrl: url } },
          "input.oauth2.authorizationUrl",
        ],
        [
          { oauth2: { ...oauth, tokenUrl: "https://a.example/t", revocationUrl: url } },
          "input.oauth2.revocationUrl",
        ],
        [{ oauth2: { clientId: "c", issuer: url } }, "input.oauth2.issuer"],
        [
          {
            bearer: {
              token: "t-value",
              refreshRequest: { endpoint: url, accessTokenPath: "access_token" },
            },
          },
          "input.bearer.refreshRequest.endpoint",
        ],
      ];
      for (const [input, path] of cases) {
        const errors = await fieldErrors({ name: "refused", verify: false, ...input });
        expect(errors.map((e) => e.path.join("."))).toEqual([path]);
        expect(errors[0]?.message).toMatch(/^points to .+; OUTBOUND_ALLOW can admit it$/);
      }
    });

    it("refuses them on updateCredential and on the redirect URI too", async () => {
      const credential = await created(app, {
        name: "to update",
        oauth2: {
          clientId: "c",
          authorizationUrl: "https://a.example/a",
          tokenUrl: "https://a.example/t",
        },
      });
      for (const url of refused) {
        const update = dataOf(
          await app.execute(OutboundUpdate, {
            input: { id: credential.id, oauth2: { tokenUrl: url } },
          } as never),
        ).updateCredential;
        if (update.__typename !== "ValidationError") throw new Error(JSON.stringify(update));
        expect(update.fieldErrors.map((e) => e.path.join("."))).toContain("input.oauth2.tokenUrl");

        const authorize = dataOf(
          await app.execute(OutboundAuthorize, {
            input: { id: credential.id, redirectUri: url },
          }),
        ).authorizeCredential;
        if (authorize.__typename !== "ValidationError") throw new Error(JSON.stringify(authorize));
        expect(authorize.fieldErrors.map((e) => e.path.join("."))).toEqual(["input.redirectUri"]);
      }
    });
  });

  describe("discovery metadata passes the same rules", () => {
    it("refuses a javascript: authorization_endpoint with a typed error", async () => {
      issuer.issuers.set("/js", {
        issuer: `${issuer.origin}/js`,
        authorization_endpoint: "javascript:alert(document.cookie)",
        token_endpoint: `${issuer.origin}/token`,
      });
      const credential = await created(app, {
        name: "js endpoint",
        // Created without reading the metadata; authorizing reads it.
        verify: false,
        oauth2: { clientId: "c", clientSecret: "s-value", issuer: `${issuer.origin}/js` },
      });
      const result = dataOf(
        await app.execute(OutboundAuthorize, { input: { id: credential.id } }),
      ).authorizeCredential;
      expect(result).toMatchObject({
        __typename: "CredentialProviderError",
        code: "ENDPOINT_NOT_ALLOWED",
      });
      if (result.__typename !== "CredentialProviderError") throw new Error("unreachable");
      expect(result.message).toContain("authorization_endpoint must be an http or https URL");
      expect(result.message).not.toContain("javascript");
    });

    it("refuses an IPv4-mapped token_endpoint: the server behind it gets no request", async () => {
      stub.script(tokenReply({ access_token: "must-not-be-issued" }));
      issuer.issuers.set("/mapped", {
        issuer: `${issuer.origin}/mapped`,
        authorization_endpoint: `${issuer.origin}/auth`,
        token_endpoint: `http://[::ffff:7f00:1]:${new URL(stub.tokenUrl).port}/token`,
      });
      const credential = await created(app, {
        name: "mapped endpoint",
        // Created without reading the metadata; authorizing reads it.
        verify: false,
        oauth2: {
          clientId: "c",
          clientSecret: "s-value",
          issuer: `${issuer.origin}/mapped`,
          accessToken: "old-access",
          refreshToken: "refresh-value",
          expiresAt: past(),
        },
      });
      const result = dataOf(
        await app.execute(OutboundAcquire, { input: { credentialId: credential.id } }),
      ).acquireCredentialHeaders;
      expect(result).toMatchObject({
        __typename: "CredentialNotUsableError",
        reason: { code: "ENDPOINT_NOT_ALLOWED" },
      });
      if (result.__typename !== "CredentialNotUsableError") throw new Error("unreachable");
      expect(result.reason?.message).toContain(
        "token_endpoint ([::ffff:7f00:1]) points to an IPv4-mapped",
      );
      expect(stub.requests).toHaveLength(0);
    });

    it("cuts a 50 MB metadata document at 1 MiB", async () => {
      issuer.issuers.set("/huge", "huge");
      const credential = await created(app, {
        name: "huge metadata",
        // Created without reading the metadata; authorizing reads it.
        verify: false,
        oauth2: { clientId: "c", clientSecret: "s-value", issuer: `${issuer.origin}/huge` },
      });
      const before = process.memoryUsage().arrayBuffers;
      const result = dataOf(
        await app.execute(OutboundAuthorize, { input: { id: credential.id } }),
      ).authorizeCredential;
      expect(result).toMatchObject({
        __typename: "CredentialProviderError",
        code: "PROVIDER_UNAVAILABLE",
      });
      // Both well-known URLs were tried; each stopped near the cap, far from 50 MB.
      expect(issuer.hugeBytesSent.length).toBeGreaterThanOrEqual(1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      for (const sent of issuer.hugeBytesSent) expect(sent).toBeLessThan(16 * 1024 * 1024);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(48 * 1024 * 1024);
    });
  });

  it("clamps a huge expires_in instead of failing", async () => {
    stub.script(tokenReply({ access_token: "at-huge", expires_in: 1e15 }));
    const credential = await created(app, {
      name: "huge expiry",
      clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: stub.tokenUrl },
    });
    if (credential.__typename !== "ClientCredentialsCredential") throw new Error("wrong kind");
    const expiresAt = new Date(String(credential.expiresAt)).getTime();
    const year = 365 * 24 * 3600 * 1000;
    expect(expiresAt).toBeGreaterThan(Date.now() + year - 60_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + year);
    expect(stub.requests).toHaveLength(1);
  });
});

describe("OUTBOUND_ALLOW empty: loopback refused before any connection", () => {
  let app: TestApp;
  let stub: TokenStub;
  let stubUrl: string;
  beforeAll(async () => {
    [app, stub] = await Promise.all([
      startTestApp({ env: { OUTBOUND_ALLOW: "" }, outboundLookup: madeUpNames }),
      startTokenStub(),
    ]);
    stub.script(tokenReply({ access_token: "must-not-be-issued" }));
    // A made-up name the injected lookup answers with 127.0.0.1, where the stub listens.
    stubUrl = `http://idp.keyport.test:${new URL(stub.tokenUrl).port}/token`;
  });
  afterAll(async () => {
    await Promise.all([app.close(), stub.close()]);
  });

  it("refuses a loopback IP literal at input", async () => {
    const result = await create(app, {
      name: "literal",
      verify: false,
      clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: stub.tokenUrl },
    });
    expect(result).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        {
          path: ["input", "clientCredentials", "tokenUrl"],
          message: "points to a loopback address (127.0.0.0/8); OUTBOUND_ALLOW can admit it",
        },
      ],
    });
  });

  it("refuses a client-credentials fetch to a name that resolves to loopback", async () => {
    const result = await create(app, {
      name: "cc refused",
      clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: stubUrl },
    });
    expect(result).toEqual({
      __typename: "CredentialProviderError",
      code: "ENDPOINT_NOT_ALLOWED",
      message:
        "token endpoint not allowed: idp.keyport.test resolves to a loopback address (127.0.0.0/8); OUTBOUND_ALLOW can admit it",
    });
    expect(stub.requests).toHaveLength(0);
  });

  it("refuses a refresh once, records ENDPOINT_NOT_ALLOWED, and never connects", async () => {
    const credential = await created(app, {
      name: "refresh refused",
      oauth2: {
        clientId: "c",
        clientSecret: "s-value",
        authorizationUrl: "https://idp.example/authorize",
        tokenUrl: stubUrl,
        accessToken: "old-access",
        refreshToken: "refresh-value",
        expiresAt: past(),
      },
    });
    const result = dataOf(
      await app.execute(OutboundAcquire, { input: { credentialId: credential.id } }),
    ).acquireCredentialHeaders;
    expect(result).toMatchObject({
      __typename: "CredentialNotUsableError",
      reason: { code: "ENDPOINT_NOT_ALLOWED" },
    });
    expect(stub.requests).toHaveLength(0);

    const stored = dataOf(await app.execute(OutboundCredential, { id: credential.id })).credential;
    expect(stored?.statusReason?.code).toBe("ENDPOINT_NOT_ALLOWED");
    expect(stored?.statusReason?.message).not.toContain("/token");
    const attempts = (stored?.history.edges ?? [])
      .map((edge) => edge.node.attempt)
      .filter((attempt) => attempt?.action === "REFRESH");
    // Not transient: one attempt, no retries.
    expect(attempts).toEqual([{ action: "REFRESH", errorCode: "ENDPOINT_NOT_ALLOWED" }]);
  });

  it("refuses a client-credentials refresh and keeps the connection recoverable", async () => {
    const credential = await created(app, {
      name: "cc later",
      verify: false,
      clientCredentials: { clientId: "c", clientSecret: "s-value", tokenUrl: stubUrl },
    });
    const result = dataOf(
      await app.execute(OutboundAcquire, { input: { credentialId: credential.id } }),
    ).acquireCredentialHeaders;
    expect(result).toMatchObject({
      __typename: "CredentialNotUsableError",
      reason: { code: "ENDPOINT_NOT_ALLOWED" },
    });
    const stored = dataOf(await app.execute(OutboundCredential, { id: credential.id })).credential;
    expect(stored).toMatchObject({
      status: "DEGRADED",
      statusReason: { code: "ENDPOINT_NOT_ALLOWED" },
    });
    expect(stub.requests).toHaveLength(0);
  });
});

describe("discovery and JWKS deadlines", () => {
  let issuer: IssuerServer;
  let slowApp: TestApp;
  beforeAll(async () => {
    issuer = await startIssuerServer();
    issuer.issuers.set("/hang", "hang");
    slowApp = await startTestApp({ env: { TOKEN_REQUEST_TIMEOUT_MS: "1000" } });
  });
  afterAll(async () => {
    await Promise.all([slowApp.close(), issuer.close()]);
  });

  it("bounds a whole discovery by one deadline against a server that never answers", async () => {
    const credential = await created(slowApp, {
      name: "hanging metadata",
      verify: false,
      oauth2: { clientId: "c", clientSecret: "s-value", issuer: `${issuer.origin}/hang` },
    });
    const started = performance.now();
    const result = dataOf(
      await slowApp.execute(OutboundAuthorize, { input: { id: credential.id } }),
    ).authorizeCredential;
    const elapsed = performance.now() - started;
    expect(result).toMatchObject({
      __typename: "CredentialProviderError",
      code: "PROVIDER_UNAVAILABLE",
    });
    // One 1 s deadline for both well-known URLs, not 1 s each.
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(1_800);
  });

  async function jwt() {
    const { privateKey } = await generateKeyPair("RS256");
    return new SignJWT({ workspace: "default", scope: "admin" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" })
      .setSubject("someone")
      .setIssuer("https://issuer.keyport.test")
      .setAudience("keyport")
      .setExpirationTime("5m")
      .sign(privateKey);
  }

  it("gives up on a hanging AUTH_JWKS_URL within the request deadline", async () => {
    const jwksApp = await startTestApp({
      env: {
        AUTH_JWT_SECRET: "",
        AUTH_JWKS_URL: `${issuer.origin}/hang/.well-known/openid-configuration`,
        TOKEN_REQUEST_TIMEOUT_MS: "500",
      },
    });
    try {
      const started = performance.now();
      const result = await jwksApp.execute(ViewerQuery, undefined, { key: await jwt() });
      expect(errorCodes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(performance.now() - started).toBeLessThan(2_500);
    } finally {
      await jwksApp.close();
    }
  });

  it("refuses an AUTH_JWKS_URL the policy does not admit, without a request", async () => {
    const before = issuer.requests.length;
    const jwksApp = await startTestApp({
      env: {
        AUTH_JWT_SECRET: "",
        AUTH_JWKS_URL: `${issuer.origin}/jwks`,
        OUTBOUND_ALLOW: "",
      },
    });
    try {
      const result = await jwksApp.execute(ViewerQuery, undefined, { key: await jwt() });
      expect(errorCodes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(issuer.requests.length).toBe(before);
    } finally {
      await jwksApp.close();
    }
  });
});
