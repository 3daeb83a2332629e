import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Outbound } from "../../src/lib/outbound.js";
import {
  backoffDelayMs,
  encodeClientCredentialsForBasic,
  MAX_EXPIRES_IN_SECONDS,
  parseRetryAfter,
  requestToken,
  type TokenAttempt,
  TokenEndpointError,
  type TokenRequest,
} from "../../src/modules/oauth/token-client.js";

// A loopback token endpoint that answers from a script and records what it was sent.
type Reply =
  | { status: number; headers?: Record<string, string>; body?: string | Record<string, unknown> }
  | "hang";
type Recorded = { method: string; path: string; headers: IncomingHttpHeaders; body: string };
type Script = Reply | ((request: Recorded) => Reply);

let server: Server;
let baseUrl: string;
let script: Script[] = [];
let requests: Recorded[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const recorded: Recorded = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(recorded);
      const next = script.shift() ?? { status: 500, body: "script exhausted" };
      const reply = typeof next === "function" ? next(recorded) : next;
      if (reply === "hang") return; // never answer; the client must give up on its own
      const body = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body ?? {});
      // No keep-alive: afterEach drops connections, and a pooled socket closed under the client
      // would fail (and retry) the next test's first attempt.
      res.writeHead(reply.status, {
        "content-type": "application/json",
        connection: "close",
        ...reply.headers,
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  server.closeAllConnections(); // drops hanging requests between tests
  script = [];
  requests = [];
});

// Loopback only, as outside production by default.
const outbound = new Outbound({ production: false, allow: ["127.0.0.0/8", "::1"] });

afterAll(async () => {
  await outbound.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const clientSecret = "client-SECRET-0f9e8d7c";
const refreshToken = "refresh-TOKEN-a1b2c3d4";

function refreshRequest(overrides: Partial<TokenRequest> = {}): TokenRequest {
  return {
    outbound,
    tokenUrl: `${baseUrl}/token`,
    parameters: { grant_type: "refresh_token", refresh_token: refreshToken },
    client: { clientId: "keyport-client", clientSecret, method: "CLIENT_SECRET_BASIC" },
    timeoutMs: 2_000,
    maxAttempts: 3,
    ...overrides,
  };
}

// Records backoff delays instead of waiting them out.
function fakeTimers() {
  const delays: number[] = [];
  const attempts: TokenAttempt[] = [];
  return {
    delays,
    attempts,
    hooks: {
      sleep: async (ms: number) => {
        delays.push(ms);
      },
      random: () => 0.5,
      onAttempt: (attempt: TokenAttempt) => attempts.push(attempt),
    },
  };
}

async function failureOf(promise: Promise<unknown>): Promise<TokenEndpointError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(TokenEndpointError);
    return error as TokenEndpointError;
  }
  throw new Error("expected requestToken to fail");
}

const okBody = { access_token: "at-1", token_type: "Bearer", expires_in: 3600 };

// The inverse of the client's encoding, done independently on the "server" side.
function formDecode(value: string): string {
  return decodeURIComponent(value.replace(/\+/g, " "));
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

describe("requestToken retries", () => {
  it("retries 503, 503 and succeeds on the third attempt", async () => {
    script = [{ status: 503 }, { status: 503 }, { status: 200, body: okBody }];
    const timers = fakeTimers();
    const { token, attempts } = await requestToken(refreshRequest(), timers.hooks);
    expect(requests).toHaveLength(3);
    expect(token).toEqual({
      accessToken: "at-1",
      tokenType: "Bearer",
      refreshToken: null,
      expiresIn: 3600,
      scope: null,
      idToken: null,
      extra: { token_type: "Bearer", expires_in: 3600 },
    });
    expect(attempts.map((a) => [a.outcome, a.httpStatus, a.errorCode])).toEqual([
      ["failure", 503, "PROVIDER_UNAVAILABLE"],
      ["failure", 503, "PROVIDER_UNAVAILABLE"],
      ["success", 200, null],
    ]);
    expect(timers.attempts).toEqual(attempts);
    // Full jitter with random() = 0.5: half of 250 ms, then half of 500 ms.
    expect(timers.delays).toEqual([125, 250]);
  });

  it("does not retry invalid_grant and reports the refresh token as revoked", async () => {
    script = [
      { status: 400, body: { error: "invalid_grant" } },
      { status: 200, body: okBody },
    ];
    const timers = fakeTimers();
    const error = await failureOf(requestToken(refreshRequest(), timers.hooks));
    expect(requests).toHaveLength(1);
    expect(timers.delays).toEqual([]);
    expect(error).toMatchObject({
      code: "REFRESH_TOKEN_REVOKED",
      oauthError: "invalid_grant",
      httpStatus: 400,
      transient: false,
    });
    expect(error.message).toBe(
      "token endpoint rejected the refresh token (invalid_grant, HTTP 400)",
    );
    expect(error.attempts).toHaveLength(1);
  });

  it("gives up after maxAttempts transient failures", async () => {
    script = [{ status: 502 }, { status: 500 }, { status: 504 }, { status: 200, body: okBody }];
    const error = await failureOf(requestToken(refreshRequest(), fakeTimers().hooks));
    expect(requests).toHaveLength(3);
    expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE", httpStatus: 504, transient: true });
    expect(error.message).toBe("token endpoint is unavailable (HTTP 504) after 3 attempts");
  });

  it("retries a 408 Request Timeout like a 5xx, and it is never permanent", async () => {
    script = [{ status: 408 }, { status: 408 }, { status: 408 }];
    const error = await failureOf(requestToken(refreshRequest(), fakeTimers().hooks));
    expect(requests).toHaveLength(3);
    expect(error).toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      httpStatus: 408,
      transient: true,
      permanent: false,
    });
  });

  it("waits at least Retry-After seconds after a 429", async () => {
    script = [
      { status: 429, headers: { "retry-after": "1" } },
      { status: 200, body: okBody },
    ];
    const timers = fakeTimers();
    const { attempts } = await requestToken(refreshRequest(), timers.hooks);
    expect(requests).toHaveLength(2);
    expect(timers.delays).toHaveLength(1);
    expect(timers.delays[0]).toBeGreaterThanOrEqual(1000);
    expect(attempts[0]).toMatchObject({ httpStatus: 429, errorCode: "RATE_LIMITED" });
  });

  it("stops retrying when Retry-After exceeds 30 seconds", async () => {
    script = [
      { status: 429, headers: { "retry-after": "31" } },
      { status: 200, body: okBody },
    ];
    const timers = fakeTimers();
    const error = await failureOf(requestToken(refreshRequest(), timers.hooks));
    expect(requests).toHaveLength(1);
    expect(timers.delays).toEqual([]);
    expect(error).toMatchObject({ code: "RATE_LIMITED", httpStatus: 429, transient: true });
  });

  it("reports an unreachable endpoint as CONNECTION_REFUSED after maxAttempts", async () => {
    const port = await closedPort();
    const timers = fakeTimers();
    const error = await failureOf(
      requestToken(refreshRequest({ tokenUrl: `http://127.0.0.1:${port}/token` }), timers.hooks),
    );
    expect(error).toMatchObject({ code: "CONNECTION_REFUSED", httpStatus: null, transient: true });
    expect(error.attempts.map((a) => a.errorCode)).toEqual([
      "CONNECTION_REFUSED",
      "CONNECTION_REFUSED",
      "CONNECTION_REFUSED",
    ]);
    expect(timers.delays).toHaveLength(2);
    // The undici error (which may describe the request) is dropped, not attached.
    expect(error.cause).toBeUndefined();
    expect(error.message).toBe("could not connect to the token endpoint after 3 attempts");
  });

  it("cuts every attempt at timeoutMs against an endpoint that never answers", async () => {
    script = ["hang", "hang", "hang"];
    const timeoutMs = 200;
    const started = performance.now();
    // Real sleep and jitter: the whole call is bounded by attempts × timeout + backoff.
    const error = await failureOf(requestToken(refreshRequest({ timeoutMs, maxAttempts: 3 })));
    const elapsed = performance.now() - started;
    expect(requests).toHaveLength(3);
    expect(error).toMatchObject({
      code: "PROVIDER_UNAVAILABLE",
      httpStatus: null,
      transient: true,
    });
    expect(error.message).toBe("token endpoint did not answer within 200 ms after 3 attempts");
    for (const attempt of error.attempts) {
      expect(attempt.durationMs).toBeGreaterThanOrEqual(timeoutMs - 10);
      expect(attempt.durationMs).toBeLessThan(timeoutMs + 400);
    }
    // 3 × 200 ms plus at most 250 + 500 ms of backoff, with slack for a busy machine.
    expect(elapsed).toBeLessThan(3 * timeoutMs + 750 + 1_000);
  });
});

describe("requestToken client authentication", () => {
  const awkwardId = "client:id+%/= x";
  const awkwardSecret = "s3cr:et+%/= ü&?*!'()";

  it("client_secret_basic form-encodes id and secret before base64 and keeps them out of the body", async () => {
    script = [{ status: 200, body: okBody }];
    await requestToken(
      refreshRequest({
        client: { clientId: awkwardId, clientSecret: awkwardSecret, method: "CLIENT_SECRET_BASIC" },
      }),
    );
    const [sent] = requests;
    expect(sent?.method).toBe("POST");
    expect(sent?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(sent?.headers.accept).toBe("application/json");
    const authorization = sent?.headers.authorization ?? "";
    expect(authorization).toMatch(/^Basic [A-Za-z0-9+/]+=*$/);
    const pair = Buffer.from(authorization.slice("Basic ".length), "base64").toString("utf8");
    // Every ":" inside the id and secret is encoded, so the first one is the separator.
    expect(pair.split(":")).toHaveLength(2);
    const [id = "", secret = ""] = pair.split(":");
    expect(formDecode(id)).toBe(awkwardId);
    expect(formDecode(secret)).toBe(awkwardSecret);
    expect(id).toBe("client%3Aid%2B%25%2F%3D+x");

    const body = new URLSearchParams(sent?.body);
    expect(body.get("grant_type")).toBe("refresh_token");
    expect(body.get("refresh_token")).toBe(refreshToken);
    expect(body.has("client_secret")).toBe(false);
    expect(body.has("client_id")).toBe(false);
  });

  it("client_secret_post sends id and secret in the body and no Authorization header", async () => {
    script = [{ status: 200, body: okBody }];
    await requestToken(
      refreshRequest({
        client: { clientId: awkwardId, clientSecret: awkwardSecret, method: "CLIENT_SECRET_POST" },
      }),
    );
    const [sent] = requests;
    expect(sent?.headers.authorization).toBeUndefined();
    const body = new URLSearchParams(sent?.body);
    expect(body.get("client_id")).toBe(awkwardId);
    expect(body.get("client_secret")).toBe(awkwardSecret);
    expect(body.get("refresh_token")).toBe(refreshToken);
  });

  it("a public client sends only client_id in the body, whatever the method", async () => {
    script = [
      { status: 200, body: okBody },
      { status: 200, body: okBody },
    ];
    for (const method of ["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"] as const) {
      await requestToken(
        refreshRequest({ client: { clientId: "pub", clientSecret: null, method } }),
      );
    }
    for (const sent of requests) {
      expect(sent.headers.authorization).toBeUndefined();
      const body = new URLSearchParams(sent.body);
      expect(body.get("client_id")).toBe("pub");
      expect(body.has("client_secret")).toBe(false);
    }
  });

  it("uses exactly one method even if the parameters carry client credentials", async () => {
    script = [{ status: 200, body: okBody }];
    await requestToken(
      refreshRequest({
        parameters: { grant_type: "client_credentials", client_secret: "stray", client_id: "x" },
      }),
    );
    const body = new URLSearchParams(requests[0]?.body);
    expect(body.has("client_secret")).toBe(false);
    expect(body.has("client_id")).toBe(false);
    expect(requests[0]?.headers.authorization).toMatch(/^Basic /);
  });

  it("encodes the Basic header value per RFC 6749 §2.3.1", () => {
    const expected = `Basic ${Buffer.from("a+b:%3A%2B%25%2F%3D").toString("base64")}`;
    expect(encodeClientCredentialsForBasic("a b", ":+%/=")).toBe(expected);
  });
});

describe("requestToken never leaks secrets", () => {
  const code = "auth-CODE-5e6f7a8b";
  const codeVerifier = "pkce-VERIFIER-9c0d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0";

  // Echoes everything it received, as some endpoints do in their error bodies.
  const echo =
    (status: number, extra: Record<string, unknown> = {}) =>
    (request: Recorded): Reply => ({
      status,
      headers: { "retry-after": "0" },
      body: {
        error: `${request.body} ${request.headers.authorization ?? ""}`,
        error_description: `bad token ${request.body} from ${request.headers.authorization ?? ""}`,
        ...extra,
      },
    });

  const cases: [string, Partial<TokenRequest>, Script[]][] = [
    ["a 400 refresh", {}, [echo(400)]],
    ["a 401 with basic", {}, [echo(401)]],
    [
      "a 400 code exchange with client_secret_post",
      {
        parameters: {
          grant_type: "authorization_code",
          code,
          code_verifier: codeVerifier,
          redirect_uri: "https://app.example/callback",
        },
        client: { clientId: "keyport-client", clientSecret, method: "CLIENT_SECRET_POST" },
      },
      [echo(400)],
    ],
    ["a 500 (retried)", {}, [echo(500), echo(503), echo(502)]],
    ["a 200 without an access token", {}, [echo(200)]],
    [
      "an invalid_grant mentioning the redirect URI",
      {},
      [echo(400, { error: "invalid_grant", error_description: `redirect_uri ${refreshToken}` })],
    ],
  ];

  it.each(cases)("%s", async (_name, overrides, replies) => {
    script = [...replies];
    const timers = fakeTimers();
    const request = refreshRequest(overrides);
    const error = await failureOf(requestToken(request, timers.hooks));
    expect(requests.length).toBeGreaterThan(0);

    const authorization = requests[0]?.headers.authorization;
    const secrets = [clientSecret, refreshToken, code, codeVerifier, requests[0]?.body ?? ""];
    if (authorization) secrets.push(authorization, authorization.slice("Basic ".length));
    // Also the encoded forms, in case anything form- or percent-encoded text is copied.
    for (const secret of [...secrets]) secrets.push(encodeURIComponent(secret));

    const exposed = [
      error.message,
      String(error),
      error.stack ?? "",
      JSON.stringify(error),
      JSON.stringify(error.attempts),
      JSON.stringify(timers.attempts),
      JSON.stringify({ ...error }),
    ].join("\n");
    for (const secret of secrets) {
      if (secret === "") continue;
      expect(exposed).not.toContain(secret);
    }
    expect(exposed).not.toContain("bad token");
    expect(error.cause).toBeUndefined();
    if (error.oauthError !== null && error.oauthError !== "invalid_grant") {
      expect(error.oauthError).toBe("unknown_error");
    }
  });

  it("reports an unregistered error code as unknown_error", async () => {
    script = [{ status: 400, body: { error: `not_a_code_${refreshToken}` } }];
    const error = await failureOf(requestToken(refreshRequest()));
    expect(error).toMatchObject({ code: "AUTHORIZATION_FAILED", oauthError: "unknown_error" });
    expect(error.message).toBe("token endpoint rejected the request (unknown_error, HTTP 400)");
  });
});

describe("requestToken responses", () => {
  it("does not follow redirects", async () => {
    for (const status of [302, 307, 308]) {
      script = [
        { status, headers: { location: `${baseUrl}/elsewhere` } },
        { status: 200, body: okBody },
      ];
      requests = [];
      const error = await failureOf(requestToken(refreshRequest(), fakeTimers().hooks));
      expect(requests.map((r) => r.path)).toEqual(["/token"]);
      expect(error).toMatchObject({ code: "PROVIDER_UNAVAILABLE", transient: false });
      expect(error.message).toBe("token endpoint answered with a redirect, which is not followed");
    }
  });

  it("parses expires_in given as a string, clamps it to a year and ignores unusable values", async () => {
    const expiresIn = [
      ["3600", 3600],
      [" 7200 ", 7200],
      [120.5, 120.5],
      // Clamped to a year, so no provider number can overflow a date.
      [1e15, MAX_EXPIRES_IN_SECONDS],
      ["1e15", MAX_EXPIRES_IN_SECONDS],
      [Number.MAX_SAFE_INTEGER, MAX_EXPIRES_IN_SECONDS],
      [365 * 24 * 3600, 365 * 24 * 3600],
      ["soon", null],
      [-5, null],
      [0, null],
      ["", null],
      [null, null],
      [undefined, null],
    ] as const;
    for (const [sent, parsed] of expiresIn) {
      script = [
        { status: 200, body: { access_token: "at", token_type: "bearer", expires_in: sent } },
      ];
      const { token } = await requestToken(refreshRequest());
      expect(token.expiresIn, `expires_in ${JSON.stringify(sent)}`).toBe(parsed);
    }
  });

  it("returns every token field", async () => {
    script = [
      {
        status: 200,
        body: {
          access_token: "at",
          token_type: "DPoP",
          refresh_token: "rt-2",
          expires_in: 60,
          scope: "read write",
          id_token: "eyJ.x.y",
        },
      },
    ];
    const { token } = await requestToken(refreshRequest());
    expect(token).toEqual({
      accessToken: "at",
      tokenType: "DPoP",
      refreshToken: "rt-2",
      expiresIn: 60,
      scope: "read write",
      idToken: "eyJ.x.y",
      // Everything but the tokens, for provider fields the catalog keeps.
      extra: { token_type: "DPoP", expires_in: 60, scope: "read write" },
    });
  });

  // Answers that are not retried within the request. Only a dead grant or client is permanent
  // (makes a credential INVALID); the rest leave it DEGRADED and retried later.
  const notRetried: [string, Partial<TokenRequest>, Reply, Record<string, unknown>][] = [
    [
      "invalid_client",
      {},
      { status: 401, body: { error: "invalid_client" } },
      {
        code: "AUTHORIZATION_FAILED",
        oauthError: "invalid_client",
        httpStatus: 401,
        permanent: true,
      },
    ],
    [
      "unauthorized_client",
      {},
      { status: 400, body: { error: "unauthorized_client" } },
      { code: "AUTHORIZATION_FAILED", oauthError: "unauthorized_client", permanent: true },
    ],
    [
      "invalid_grant on a refresh",
      {},
      { status: 400, body: { error: "invalid_grant" } },
      { code: "REFRESH_TOKEN_REVOKED", oauthError: "invalid_grant", permanent: true },
    ],
    [
      "a bare 401",
      {},
      { status: 401, body: "" },
      { code: "AUTHORIZATION_FAILED", oauthError: null, httpStatus: 401, permanent: false },
    ],
    [
      "a 404 from a moved endpoint",
      {},
      { status: 404, headers: { "content-type": "text/html" }, body: "<h1>Not Found</h1>" },
      { code: "PROVIDER_UNAVAILABLE", oauthError: null, httpStatus: 404, permanent: false },
    ],
    [
      "invalid_scope",
      {},
      { status: 400, body: { error: "invalid_scope" } },
      { code: "INSUFFICIENT_SCOPES", oauthError: "invalid_scope" },
    ],
    [
      "invalid_grant on a code exchange",
      { parameters: { grant_type: "authorization_code", code: "c", redirect_uri: "https://a/cb" } },
      { status: 400, body: { error: "invalid_grant" } },
      { code: "AUTHORIZATION_FAILED", oauthError: "invalid_grant" },
    ],
    [
      "invalid_grant about the redirect URI",
      { parameters: { grant_type: "authorization_code", code: "c", redirect_uri: "https://a/cb" } },
      { status: 400, body: { error: "invalid_grant", error_description: "Redirect URI mismatch" } },
      { code: "INVALID_REDIRECT_URI", oauthError: "invalid_grant" },
    ],
    [
      "invalid_request about redirect_uri",
      {},
      { status: 400, body: { error: "invalid_request", error_description: "bad redirect_uri" } },
      { code: "INVALID_REDIRECT_URI", oauthError: "invalid_request" },
    ],
    [
      "a CDN's HTML 403",
      {},
      { status: 403, headers: { "content-type": "text/html" }, body: "<h1>Forbidden</h1>" },
      { code: "PROVIDER_UNAVAILABLE", oauthError: null, httpStatus: 403, permanent: false },
    ],
    [
      "a 200 that is not JSON",
      {},
      { status: 200, headers: { "content-type": "text/html" }, body: "<html></html>" },
      { code: "PROVIDER_UNAVAILABLE", httpStatus: 200, permanent: false },
    ],
    [
      "a 200 without access_token",
      {},
      { status: 200, body: { token_type: "Bearer" } },
      { code: "PROVIDER_UNAVAILABLE", httpStatus: 200, permanent: false },
    ],
  ];

  it.each(notRetried)("%s is not retried", async (_name, overrides, reply, fields) => {
    script = [reply, { status: 200, body: okBody }];
    const error = await failureOf(requestToken(refreshRequest(overrides), fakeTimers().hooks));
    expect(requests).toHaveLength(1);
    expect(error).toMatchObject({ ...fields, transient: false });
  });
});

describe("backoffDelayMs", () => {
  it("is full jitter over an exponential ceiling capped at 4 s", () => {
    const ceilings = [0, 1, 2, 3, 4, 5, 10].map((n) => backoffDelayMs(n, null, () => 1));
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 4000, 4000]);
    expect(backoffDelayMs(3, null, () => 0)).toBe(0);
    expect(backoffDelayMs(1, null, () => 0.5)).toBe(250);
  });

  it("never goes below Retry-After", () => {
    expect(backoffDelayMs(0, 1000, () => 0)).toBe(1000);
    expect(backoffDelayMs(5, 1000, () => 1)).toBe(4000);
  });
});

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-01-01T00:00:00Z");
  it.each([
    ["1", 1000],
    [" 30 ", 30_000],
    ["0", 0],
    ["Wed, 01 Jan 2025 00:00:05 GMT", 5000],
    ["Tue, 31 Dec 2024 23:59:00 GMT", 0],
    ["", null],
    ["-1", null],
    ["1.5", null],
    ["soon", null],
    [null, null],
  ] as const)("%j -> %j", (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
