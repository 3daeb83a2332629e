// Finding: the callback page posted to targetOrigin "*" and could be framed, and CORS reflected
// any Origin with credentials allowed. Now the popup posts only to an allowed opener origin given
// when the authorization started (nothing without one), the page forbids framing, and CORS is an
// allow-list.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { environmentIds } from "../helpers/credentials.js";

const allowed = "https://app.example.test";
const foreign = "https://evil.example.test";

type Result = { data?: Record<string, Record<string, unknown>>; errors?: unknown[] };

describe("origins: popup callback and CORS", () => {
  let app: TestApp;
  let credentialId: string;
  const gql = async (query: string, variables?: Record<string, unknown>) => {
    const response = await app.request("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as Result;
  };
  const authorize = (input: Record<string, unknown>, mutation = "authorizeCredential") =>
    gql(
      `mutation($input: ${mutation === "authorizeCredential" ? "AuthorizeCredentialInput" : "ReauthorizeCredentialInput"}!) {
        ${mutation}(input: $input) {
          __typename
          ... on AuthorizeCredentialSuccess { state }
          ... on ValidationError { fieldErrors { path message } }
        }
      }`,
      { input: { id: credentialId, ...input } },
    );
  const pendingCount = () => app.database.prisma.oAuthAuthorization.count();
  const callback = (query: string) => app.request(`/oauth/callback?${query}`);
  const expectPageHeaders = (response: Response) => {
    const csp = response.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
    expect(response.headers.get("cache-control")).toBe("no-store");
  };

  beforeAll(async () => {
    app = await startTestApp({ env: { ALLOWED_ORIGINS: `${allowed},http://localhost:5173` } });
    const development = (await environmentIds(app)).development;
    const created = await gql(
      `mutation($input: CreateCredentialInput!) { createCredential(input: $input) {
        ... on CreateCredentialSuccess { credential { ... on CredentialBase { id } } } } }`,
      {
        input: {
          name: "popup",
          environmentId: development,
          oauth2: {
            clientId: "client",
            authorizationUrl: "http://127.0.0.1:9/authorize",
            tokenUrl: "http://127.0.0.1:9/token",
          },
        },
      },
    );
    credentialId = (created.data?.createCredential?.credential as { id: string } | undefined)
      ?.id as string;
  });
  afterAll(() => app.close());

  it("accepts an allowed openerOrigin and posts the outcome to exactly that origin", async () => {
    const started = await authorize({ openerOrigin: allowed });
    expect(started.data?.authorizeCredential?.__typename).toBe("AuthorizeCredentialSuccess");
    const state = started.data?.authorizeCredential?.state as string;
    const response = await callback(`state=${encodeURIComponent(state)}&error=access_denied`);
    expectPageHeaders(response);
    const html = await response.text();
    expect(html).toContain(`postMessage(message, ${JSON.stringify(allowed)})`);
    expect(html).not.toContain('"*"');
    // The message always names the credential, the status and the code; a failure stays open
    // so the user can read it.
    const posted = JSON.parse(/var message = (\{.*?\});/.exec(html)?.[1] ?? "null");
    expect(posted).toEqual({
      type: "keyport:oauth",
      status: "error",
      credentialId,
      code: "AUTHORIZATION_DENIED",
    });
    expect(html).not.toContain("window.close");
    expect(html).toContain("<code>AUTHORIZATION_DENIED</code>");
    const reauthorized = await authorize(
      { openerOrigin: "http://localhost:5173" },
      "reauthorizeCredential",
    );
    expect(reauthorized.data?.reauthorizeCredential?.__typename).toBe("AuthorizeCredentialSuccess");
  });

  it("refuses an openerOrigin outside ALLOWED_ORIGINS on the field, storing nothing", async () => {
    const before = await pendingCount();
    for (const openerOrigin of [foreign, `${allowed}/path`, "null", "*"]) {
      for (const mutation of ["authorizeCredential", "reauthorizeCredential"]) {
        const result = await authorize({ openerOrigin }, mutation);
        expect(result.data?.[mutation]).toMatchObject({
          __typename: "ValidationError",
          fieldErrors: [{ path: ["input", "openerOrigin"] }],
        });
      }
    }
    expect(await pendingCount()).toBe(before);
  });

  it("posts nothing without an opener origin or with an unknown state, on every outcome", async () => {
    const started = await authorize({});
    const state = started.data?.authorizeCredential?.state as string;
    for (const query of [
      `state=${encodeURIComponent(state)}&error=access_denied`,
      "state=unknown-state&code=abc",
      "code=abc",
    ]) {
      const response = await callback(query);
      expectPageHeaders(response);
      const html = await response.text();
      expect(html).not.toContain("postMessage");
      expect(html).toMatch(/<code>AUTHORIZATION_(DENIED|FAILED)<\/code>/);
    }
  });

  it("answers CORS preflights only for allowed origins, without credentials", async () => {
    const preflight = (origin: string, target = app) =>
      target.request("/graphql", {
        method: "OPTIONS",
        headers: {
          origin,
          "access-control-request-method": "POST",
          "access-control-request-headers": "authorization, content-type",
        },
      });
    const ok = await preflight(allowed);
    expect(ok.headers.get("access-control-allow-origin")).toBe(allowed);
    expect(ok.headers.get("access-control-allow-credentials")).toBeNull();
    expect(ok.headers.get("access-control-allow-headers")).toContain("authorization");
    const refused = await preflight(foreign);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(refused.headers.get("access-control-allow-credentials")).toBeNull();
    const simple = await app.request("/graphql?query=%7B__typename%7D", {
      headers: { origin: foreign },
    });
    expect(simple.headers.get("access-control-allow-origin")).toBeNull();

    // With ALLOWED_ORIGINS empty, no origin gets CORS headers.
    const closed = await startTestApp();
    try {
      for (const origin of [allowed, foreign]) {
        const response = await preflight(origin, closed);
        expect(response.headers.get("access-control-allow-origin")).toBeNull();
      }
    } finally {
      await closed.close();
    }
  });
});
