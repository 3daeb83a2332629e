// Token endpoint faults, end to end: a scripted token endpoint on 127.0.0.1 answers keyport's
// refresh and client-credentials requests with errors, rotations, rate limits, silence and echoes
// of the request, and the tests check what callers then see: auth material or a classified error,
// the credential's status and history, and no secret anywhere.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { AcquireHeadersMutation } from "../helpers/credential-documents.js";
import { environmentIds } from "../helpers/credentials.js";
import {
  closedPortUrl,
  oauthErrorReply,
  type RecordedRequest,
  type StubReply,
  startTokenStub,
  type TokenStub,
  tokenReply,
} from "../helpers/token-stub.js";

// Spread by the operations below.
graphql(`
  fragment OAuthFaultFields on CredentialBase {
    __typename
    id
    kind
    status
    statusReason {
      code
      message
    }
    ... on OAuth2Credential {
      expiresAt
      accessToken {
        isSet
        fingerprint
      }
      refreshToken {
        isSet
        fingerprint
      }
    }
    ... on ClientCredentialsCredential {
      expiresAt
      accessToken {
        isSet
        fingerprint
      }
    }
  }
`);

const FaultCreateMutation = graphql(`
  mutation OAuthFaultCreate($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess {
        credential {
          ...OAuthFaultFields
        }
      }
      ... on CredentialProviderError {
        code
      }
      ... on Error {
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

const FaultCredentialQuery = graphql(`
  query OAuthFaultCredential($id: ID!) {
    credential(id: $id) {
      ...OAuthFaultFields
      ... on CredentialBase {
        history(first: 20) {
          edges {
            node {
              type
              status
              reason {
                code
                message
              }
              attempt {
                action
                outcome
                durationMs
                httpStatus
                errorCode
              }
            }
          }
        }
      }
    }
  }
`);

const FaultRotateMutation = graphql(`
  mutation OAuthFaultRotate($input: RotateCredentialInput!) {
    rotateCredential(input: $input) {
      __typename
      ... on RotateCredentialSuccess {
        credential {
          ...OAuthFaultFields
        }
      }
      ... on CredentialProviderError {
        code
      }
      ... on Error {
        message
      }
    }
  }
`);

const tokenTimeoutMs = 300;
// No negative cache here: these tests count the token calls of back-to-back refreshes.
const testEnv = {
  TOKEN_REQUEST_TIMEOUT_MS: String(tokenTimeoutMs),
  LOG_LEVEL: "debug",
  REFRESH_FAILURE_BACKOFF: "0",
};

/** A unique value, so a test can look for it anywhere. */
const unique = (label: string) => `${label}-${randomBytes(10).toString("hex")}`;
const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000);
/** The database id behind a Relay global id (base64 "Type:id"). */
const rawId = (globalId: string) =>
  Buffer.from(globalId, "base64")
    .toString("utf8")
    .replace(/^[^:]*:/, "");

/** Undoes client_secret_basic (RFC 6749 §2.3.1): base64, then form-urlencoded id and secret. */
function basicCredentials(header: string | undefined) {
  const match = /^Basic ([A-Za-z0-9+/=]+)$/.exec(header ?? "");
  if (!match?.[1]) return null;
  const pair = Buffer.from(match[1], "base64").toString("utf8");
  const colon = pair.indexOf(":");
  const decode = (value: string) => decodeURIComponent(value.replace(/\+/g, " "));
  return { clientId: decode(pair.slice(0, colon)), clientSecret: decode(pair.slice(colon + 1)) };
}

describe("OAuth token endpoint faults", () => {
  let app: TestApp;
  let stub: TokenStub;
  let environmentId: string;

  beforeAll(async () => {
    [app, stub] = await Promise.all([startTestApp({ env: testEnv }), startTokenStub()]);
    const ids = await environmentIds(app);
    environmentId = ids.development as string;
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  async function createOAuth2(
    options: {
      expiresAt?: Date;
      tokenUrl?: string;
      method?: "CLIENT_SECRET_BASIC" | "CLIENT_SECRET_POST";
      clientSecret?: string;
      refreshToken?: string;
      accessToken?: string;
    } = {},
  ) {
    const values = {
      clientId: unique("client"),
      clientSecret: options.clientSecret ?? unique("client-secret"),
      accessToken: options.accessToken ?? unique("access"),
      refreshToken: options.refreshToken ?? unique("refresh"),
    };
    const result = dataOf(
      await app.execute(FaultCreateMutation, {
        input: {
          environmentId,
          name: unique("oauth2"),
          oauth2: {
            ...values,
            authorizationUrl: "https://provider.example/authorize",
            tokenUrl: options.tokenUrl ?? stub.tokenUrl,
            tokenEndpointAuthMethod: options.method ?? "CLIENT_SECRET_BASIC",
            expiresAt: (options.expiresAt ?? minutesFromNow(-5)).toISOString(),
          },
        },
      }),
    ).createCredential;
    if (result.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(result));
    expect(result.credential.status).toBe("ACTIVE");
    return { ...values, id: result.credential.id };
  }

  const acquire = async (credentialId: string, minValiditySeconds?: number) =>
    dataOf(
      await app.execute(AcquireHeadersMutation, {
        input: {
          credentialId,
          ...(minValiditySeconds !== undefined ? { minValiditySeconds } : {}),
        },
      }),
    ).acquireCredentialHeaders;

  async function credential(id: string) {
    const found = dataOf(await app.execute(FaultCredentialQuery, { id })).credential;
    if (!found) throw new Error(`credential ${id} not found`);
    return found;
  }

  /** History entries, oldest first. */
  async function history(id: string) {
    return (await credential(id)).history.edges.map((edge) => edge.node).reverse();
  }

  const expire = (id: string) =>
    app.database.prisma.credential.update({
      where: { id: rawId(id) },
      data: { expiresAt: minutesFromNow(-1) },
    });

  it("retries 503, 503, 200 and hands out the new token, with every attempt in the history", async () => {
    // Characters that client_secret_basic must form-encode before base64 (RFC 6749 §2.3.1).
    const clientSecret = `s3cr:et+/=%${unique("x")} ü`;
    const created = await createOAuth2({ clientSecret });
    const newAccess = unique("new-access");
    stub.script(
      { status: 503, body: { error: "server_error" } },
      { status: 503 },
      tokenReply({ access_token: newAccess }),
    );

    const result = await acquire(created.id);

    expect(result).toMatchObject({
      __typename: "AcquireCredentialHeadersSuccess",
      headers: [{ name: "Authorization", value: `Bearer ${newAccess}` }],
    });
    expect(stub.requests).toHaveLength(3);
    for (const request of stub.requests) {
      expect(request.method).toBe("POST");
      expect(request.headers["content-type"]).toBe("application/x-www-form-urlencoded");
      expect(request.form).toEqual({
        grant_type: "refresh_token",
        refresh_token: created.refreshToken,
      });
      expect(basicCredentials(request.headers.authorization)).toEqual({
        clientId: created.clientId,
        clientSecret,
      });
    }

    const after = await credential(created.id);
    expect(after).toMatchObject({ status: "ACTIVE", statusReason: null });
    expect(after.__typename === "OAuth2Credential" && after.expiresAt).toSatisfy(
      (expiresAt) =>
        typeof expiresAt === "string" && Date.parse(expiresAt) > Date.now() + 3_000_000,
    );
    const attempts = (await history(created.id)).filter((event) => event.attempt);
    expect(attempts).toMatchObject([
      {
        type: "REFRESH_FAILED",
        attempt: {
          action: "REFRESH",
          outcome: "FAILURE",
          httpStatus: 503,
          errorCode: "PROVIDER_UNAVAILABLE",
        },
      },
      {
        type: "REFRESH_FAILED",
        attempt: {
          action: "REFRESH",
          outcome: "FAILURE",
          httpStatus: 503,
          errorCode: "PROVIDER_UNAVAILABLE",
        },
      },
      {
        type: "REFRESHED",
        status: "ACTIVE",
        attempt: { action: "REFRESH", outcome: "SUCCESS", httpStatus: 200, errorCode: null },
      },
    ]);
  });

  it("treats invalid_grant as terminal: one call, INVALID, and no token call after that", async () => {
    const created = await createOAuth2();
    stub.script(oauthErrorReply("invalid_grant"));

    const result = await acquire(created.id);

    expect(result).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "INVALID",
      reason: { code: "REFRESH_TOKEN_REVOKED" },
    });
    expect(stub.requests).toHaveLength(1);
    const after = await credential(created.id);
    expect(after).toMatchObject({
      status: "INVALID",
      statusReason: { code: "REFRESH_TOKEN_REVOKED" },
    });
    const events = await history(created.id);
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "REFRESH_FAILED",
        attempt: expect.objectContaining({
          action: "REFRESH",
          outcome: "FAILURE",
          httpStatus: 400,
          errorCode: "REFRESH_TOKEN_REVOKED",
        }),
      }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({
        type: "INVALIDATED",
        status: "INVALID",
        reason: expect.objectContaining({ code: "REFRESH_TOKEN_REVOKED" }),
      }),
    );

    // Neither another acquire nor "refresh now" calls the token endpoint again.
    expect(await acquire(created.id)).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "INVALID",
      reason: { code: "REFRESH_TOKEN_REVOKED" },
    });
    const rotated = dataOf(
      await app.execute(FaultRotateMutation, { input: { id: created.id } }),
    ).rotateCredential;
    expect(rotated).toMatchObject({
      __typename: "CredentialProviderError",
      code: "REFRESH_TOKEN_REVOKED",
    });
    expect(stub.requests).toHaveLength(1);
  });

  it("stores a rotated refresh token and keeps the old one when the response has none", async () => {
    const created = await createOAuth2();
    const rotatedRefresh = unique("rotated-refresh");

    stub.script(tokenReply({ access_token: unique("a2"), refresh_token: rotatedRefresh }));
    expect((await acquire(created.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
    expect(stub.requests.map((r) => r.form.refresh_token)).toEqual([created.refreshToken]);

    // The next refresh sends the rotated token; its response carries no refresh token.
    await expire(created.id);
    stub.script(tokenReply({ access_token: unique("a3") }));
    expect((await acquire(created.id)).__typename).toBe("AcquireCredentialHeadersSuccess");
    expect(stub.requests.map((r) => r.form.refresh_token)).toEqual([rotatedRefresh]);

    // So the one after that sends the rotated token again.
    await expire(created.id);
    const a4 = unique("a4");
    stub.script(tokenReply({ access_token: a4 }));
    expect(await acquire(created.id)).toMatchObject({
      headers: [{ name: "Authorization", value: `Bearer ${a4}` }],
    });
    expect(stub.requests.map((r) => r.form.refresh_token)).toEqual([rotatedRefresh]);
  });

  describe("unreachable token endpoint", () => {
    it("makes a credential whose token already expired DEGRADED, not INVALID: an outage is not final", async () => {
      const expired = await createOAuth2({
        tokenUrl: await closedPortUrl(),
        expiresAt: minutesFromNow(-5),
      });
      expect(await acquire(expired.id)).toMatchObject({
        __typename: "CredentialNotUsableError",
        status: "DEGRADED",
        reason: { code: "CONNECTION_REFUSED" },
      });
      expect(await credential(expired.id)).toMatchObject({
        status: "DEGRADED",
        statusReason: { code: "CONNECTION_REFUSED" },
        refreshToken: { isSet: true },
      });
      const events = await history(expired.id);
      expect(events.filter((event) => event.attempt)).toMatchObject(
        Array(3).fill({
          type: "REFRESH_FAILED",
          attempt: { outcome: "FAILURE", httpStatus: null, errorCode: "CONNECTION_REFUSED" },
        }),
      );
      expect(events.map((event) => event.type)).not.toContain("INVALIDATED");
    });

    it("makes a credential whose token is still valid DEGRADED (CONNECTION_REFUSED)", async () => {
      // Valid for 30 s more, but the caller asks for 60: not handed out, yet not given up on.
      const expiring = await createOAuth2({
        tokenUrl: await closedPortUrl(),
        expiresAt: new Date(Date.now() + 30_000),
      });
      expect(await acquire(expiring.id, 60)).toMatchObject({
        __typename: "CredentialNotUsableError",
        status: "DEGRADED",
        reason: { code: "CONNECTION_REFUSED" },
      });
      expect(await credential(expiring.id)).toMatchObject({
        status: "DEGRADED",
        statusReason: { code: "CONNECTION_REFUSED" },
      });
      // A DEGRADED credential's token still goes to a caller who needs it for less time.
      expect(await acquire(expiring.id, 0)).toMatchObject({
        __typename: "AcquireCredentialHeadersSuccess",
        headers: [{ name: "Authorization", value: `Bearer ${expiring.accessToken}` }],
      });
    });
  });

  it("cuts a hanging token endpoint off at the per-attempt timeout and recovers afterwards", {
    timeout: 10_000,
  }, async () => {
    const created = await createOAuth2({ expiresAt: new Date(Date.now() + 30_000) });
    stub.script("hang");

    const started = performance.now();
    const result = await acquire(created.id);
    const elapsed = performance.now() - started;

    expect(result).toMatchObject({
      __typename: "CredentialNotUsableError",
      status: "DEGRADED",
      reason: { code: "PROVIDER_UNAVAILABLE" },
    });
    expect(stub.requests).toHaveLength(3);
    // Three timed-out attempts plus at most the two backoff waits (full jitter, 250 ms base,
    // 4 s cap), with slack for the rest.
    expect(elapsed).toBeGreaterThanOrEqual(3 * tokenTimeoutMs - 50);
    expect(elapsed).toBeLessThan(3 * tokenTimeoutMs + 4_500 + 1_500);
    const attempts = (await history(created.id)).filter((event) => event.attempt);
    expect(attempts).toHaveLength(3);
    for (const { attempt } of attempts) {
      expect(attempt).toMatchObject({ errorCode: "PROVIDER_UNAVAILABLE", httpStatus: null });
      expect(attempt?.durationMs).toBeGreaterThanOrEqual(tokenTimeoutMs - 20);
      expect(attempt?.durationMs).toBeLessThan(tokenTimeoutMs + 700);
    }

    // The refresh lease was released: once the endpoint answers, the credential is restored.
    const access = unique("after-hang");
    stub.script(tokenReply({ access_token: access }));
    expect(await acquire(created.id)).toMatchObject({
      headers: [{ name: "Authorization", value: `Bearer ${access}` }],
    });
    expect(stub.requests).toHaveLength(1);
    expect(await credential(created.id)).toMatchObject({ status: "ACTIVE", statusReason: null });
    expect((await history(created.id)).at(-1)).toMatchObject({ type: "RESTORED" });
  });

  it("waits for Retry-After before retrying a 429", async () => {
    const created = await createOAuth2();
    const access = unique("after-429");
    stub.script(
      { status: 429, headers: { "retry-after": "1" }, body: { error: "rate limited" } },
      tokenReply({ access_token: access }),
    );

    expect(await acquire(created.id)).toMatchObject({
      headers: [{ name: "Authorization", value: `Bearer ${access}` }],
    });

    expect(stub.requests).toHaveLength(2);
    const [first, second] = stub.requests as [RecordedRequest, RecordedRequest];
    expect(second.at - first.at).toBeGreaterThanOrEqual(990);
    const attempts = (await history(created.id)).filter((event) => event.attempt);
    expect(attempts).toMatchObject([
      {
        type: "REFRESH_FAILED",
        attempt: { outcome: "FAILURE", httpStatus: 429, errorCode: "RATE_LIMITED" },
      },
      { type: "REFRESHED", attempt: { outcome: "SUCCESS", httpStatus: 200 } },
    ]);
  });

  it("leaks nothing a token endpoint echoes back: responses, history, logs, audit, events", async () => {
    // Answers 400 with the whole request (body and Authorization header) in its error fields.
    const echo: StubReply = (request) => ({
      status: 400,
      body: {
        error: request.body,
        error_description: `${request.body} ${request.headers.authorization ?? ""}`,
      },
    });
    stub.script(echo);
    const canaries = new Set<string>();
    const responses: unknown[] = [];
    const record = <T>(value: T) => {
      responses.push(value);
      return value;
    };

    // Refreshes with client_secret_basic and client_secret_post, through acquire and rotate.
    const basic = await createOAuth2({ method: "CLIENT_SECRET_BASIC" });
    const post = await createOAuth2({ method: "CLIENT_SECRET_POST" });
    const valid = await createOAuth2({ expiresAt: minutesFromNow(60) });
    for (const created of [basic, post, valid]) {
      for (const value of [created.clientSecret, created.accessToken, created.refreshToken]) {
        canaries.add(value);
      }
    }
    for (const created of [basic, post]) {
      // An unregistered error code is no proof the grant is dead: DEGRADED, retried later.
      expect(record(await acquire(created.id))).toMatchObject({
        __typename: "CredentialNotUsableError",
        status: "DEGRADED",
        reason: { code: "AUTHORIZATION_FAILED" },
      });
    }
    expect(
      record(
        dataOf(await app.execute(FaultRotateMutation, { input: { id: valid.id } }))
          .rotateCredential,
      ),
    ).toMatchObject({ __typename: "CredentialProviderError", code: "AUTHORIZATION_FAILED" });

    // Client credentials checked at creation, with either client authentication.
    for (const method of ["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"] as const) {
      const clientSecret = unique("cc-secret");
      canaries.add(clientSecret);
      const created = record(
        dataOf(
          await app.execute(FaultCreateMutation, {
            input: {
              environmentId,
              name: unique("echo cc"),
              clientCredentials: {
                clientId: unique("cc-client"),
                clientSecret,
                tokenUrl: stub.tokenUrl,
                tokenEndpointAuthMethod: method,
              },
            },
          }),
        ).createCredential,
      );
      expect(created).toMatchObject({
        __typename: "CredentialProviderError",
        code: "AUTHORIZATION_FAILED",
      });
    }

    expect(stub.requests).toHaveLength(5);
    for (const request of stub.requests) {
      // The Authorization header and its base64 payload count as secrets too.
      const authorization = request.headers.authorization;
      if (authorization) {
        canaries.add(authorization);
        canaries.add(authorization.replace(/^Basic /, ""));
      }
    }
    for (const created of [basic, post, valid]) {
      const found = record(await credential(created.id));
      expect(found.history.edges.length).toBeGreaterThan(0);
    }

    const prisma = app.database.prisma;
    const places = {
      responses: JSON.stringify(responses),
      logs: app.logs.join("\n"),
      auditEvents: JSON.stringify(await prisma.auditEvent.findMany()),
      credentialEvents: JSON.stringify(await prisma.credentialEvent.findMany(), (_key, value) =>
        typeof value === "bigint" ? value.toString() : value,
      ),
      credentials: JSON.stringify(await prisma.credential.findMany()),
    };
    const leaks = Object.entries(places).flatMap(([place, text]) =>
      [...canaries].filter((canary) => text.includes(canary)).map((canary) => ({ place, canary })),
    );
    expect(leaks).toEqual([]);
  });

  describe("client credentials", () => {
    it("fetches a token at creation, serves it from the cache, and fetches again once it expired", async () => {
      const clientId = unique("cc-client");
      const clientSecret = unique("cc-secret");
      const first = unique("cc-access");
      stub.script(tokenReply({ access_token: first }));

      const created = dataOf(
        await app.execute(FaultCreateMutation, {
          input: {
            environmentId,
            name: unique("cc"),
            clientCredentials: {
              clientId,
              clientSecret,
              tokenUrl: stub.tokenUrl,
              scopes: ["read:things", "write:things"],
              audience: "https://api.example/",
            },
          },
        }),
      ).createCredential;
      if (created.__typename !== "CreateCredentialSuccess")
        throw new Error(JSON.stringify(created));
      expect(created.credential).toMatchObject({
        kind: "CLIENT_CREDENTIALS",
        status: "ACTIVE",
        accessToken: { isSet: true },
      });
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]?.form).toEqual({
        grant_type: "client_credentials",
        scope: "read:things write:things",
        audience: "https://api.example/",
      });
      expect(basicCredentials(stub.requests[0]?.headers.authorization)).toEqual({
        clientId,
        clientSecret,
      });

      // A valid cached token is handed out without a token call.
      const { id } = created.credential;
      expect(await acquire(id)).toMatchObject({
        headers: [{ name: "Authorization", value: `Bearer ${first}` }],
      });
      expect(stub.requests).toHaveLength(1);

      await expire(id);
      const second = unique("cc-access");
      stub.script(tokenReply({ access_token: second }));
      expect(await acquire(id)).toMatchObject({
        headers: [{ name: "Authorization", value: `Bearer ${second}` }],
      });
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]?.form.grant_type).toBe("client_credentials");
      const attempts = (await history(id)).filter((event) => event.attempt);
      expect(attempts.at(-1)).toMatchObject({
        type: "REFRESHED",
        attempt: { action: "CLIENT_CREDENTIALS", outcome: "SUCCESS", httpStatus: 200 },
      });
    });

    it("stores nothing when the token endpoint answers invalid_client at creation", async () => {
      const prisma = app.database.prisma;
      const before = await prisma.credential.count();
      stub.script(oauthErrorReply("invalid_client", 401));

      const result = dataOf(
        await app.execute(FaultCreateMutation, {
          input: {
            environmentId,
            name: unique("rejected cc"),
            clientCredentials: {
              clientId: unique("cc-client"),
              clientSecret: unique("cc-secret"),
              tokenUrl: stub.tokenUrl,
            },
          },
        }),
      ).createCredential;

      expect(result).toMatchObject({
        __typename: "CredentialProviderError",
        code: "AUTHORIZATION_FAILED",
      });
      // Permanent: not retried.
      expect(stub.requests).toHaveLength(1);
      expect(await prisma.credential.count()).toBe(before);
    });

    it("sends client_secret_post credentials in the body and no Authorization header", async () => {
      const clientId = unique("cc-client");
      const clientSecret = unique("cc-secret");
      stub.script(tokenReply({ access_token: unique("cc-access") }));

      const result = dataOf(
        await app.execute(FaultCreateMutation, {
          input: {
            environmentId,
            name: unique("post cc"),
            clientCredentials: {
              clientId,
              clientSecret,
              tokenUrl: stub.tokenUrl,
              tokenEndpointAuthMethod: "CLIENT_SECRET_POST",
            },
          },
        }),
      ).createCredential;

      expect(result.__typename).toBe("CreateCredentialSuccess");
      expect(stub.requests).toHaveLength(1);
      expect(stub.requests[0]?.headers.authorization).toBeUndefined();
      expect(stub.requests[0]?.form).toEqual({
        grant_type: "client_credentials",
        client_id: clientId,
        client_secret: clientSecret,
      });
    });
  });

  it("refreshes now when an OAuth2 credential is rotated without a secret", async () => {
    const created = await createOAuth2({ expiresAt: minutesFromNow(60) });
    const before = await credential(created.id);
    const access = unique("rotated-access");
    stub.script(tokenReply({ access_token: access }));

    const result = dataOf(
      await app.execute(FaultRotateMutation, { input: { id: created.id } }),
    ).rotateCredential;

    if (result.__typename !== "RotateCredentialSuccess") throw new Error(JSON.stringify(result));
    expect(stub.requests).toHaveLength(1);
    expect(stub.requests[0]?.form).toEqual({
      grant_type: "refresh_token",
      refresh_token: created.refreshToken,
    });
    const fingerprint = (value: { __typename: string; accessToken?: unknown }) =>
      value.__typename === "OAuth2Credential"
        ? (value.accessToken as { fingerprint?: string | null } | null)?.fingerprint
        : undefined;
    expect(fingerprint(result.credential)).toEqual(expect.any(String));
    expect(fingerprint(result.credential)).not.toBe(fingerprint(before));
    expect(await acquire(created.id)).toMatchObject({
      headers: [{ name: "Authorization", value: `Bearer ${access}` }],
    });
    expect(stub.requests).toHaveLength(1);
  });
});

describe("background refresh sweeper", () => {
  // Its own app, so the sweep sees only this test's credentials.
  let app: TestApp;
  let stub: TokenStub;
  beforeAll(async () => {
    [app, stub] = await Promise.all([startTestApp({ env: testEnv }), startTokenStub()]);
  });
  afterAll(async () => {
    await Promise.all([app?.close(), stub?.close()]);
  });

  it("refreshes tokens that expire within 10 minutes and leaves later ones alone", async () => {
    const environmentId = (await environmentIds(app)).development;
    const create = async (name: string, expiresAt: Date) => {
      const refreshToken = unique("refresh");
      const result = dataOf(
        await app.execute(FaultCreateMutation, {
          input: {
            environmentId,
            name,
            oauth2: {
              clientId: "sweep-client",
              clientSecret: unique("secret"),
              authorizationUrl: "https://provider.example/authorize",
              tokenUrl: stub.tokenUrl,
              accessToken: unique("access"),
              refreshToken,
              expiresAt: expiresAt.toISOString(),
            },
          },
        }),
      ).createCredential;
      if (result.__typename !== "CreateCredentialSuccess") throw new Error(JSON.stringify(result));
      return { id: result.credential.id, refreshToken, expiresAt };
    };
    const soon = await create("expires soon", minutesFromNow(5));
    const later = await create("expires later", minutesFromNow(120));
    stub.script(tokenReply({ access_token: unique("swept"), expires_in: 3600 }));

    await app.keyport.services.refresher.sweep();

    expect(stub.requests.map((request) => request.form.refresh_token)).toEqual([soon.refreshToken]);
    const prisma = app.database.prisma;
    const soonRow = await prisma.credential.findUniqueOrThrow({ where: { id: rawId(soon.id) } });
    expect(soonRow.expiresAt?.getTime()).toBeGreaterThan(minutesFromNow(50).getTime());
    const laterRow = await prisma.credential.findUniqueOrThrow({ where: { id: rawId(later.id) } });
    expect(laterRow.expiresAt?.getTime()).toBe(later.expiresAt.getTime());
    expect(await prisma.credentialEvent.count({ where: { credentialId: rawId(later.id) } })).toBe(
      0,
    );
  });
});
