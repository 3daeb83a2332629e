// Connect sessions: a browser-safe token limited to one end user in one environment (and to some
// providers), checked as a matrix of operations against the user's own and other credentials.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";

type Result = {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

const canary = "CANARY-connect-secret-7f3a9c2e11d84b6a";
const canaryPassword = "CANARY-connect-password-0b5e2d4c6a";

describe("connect sessions", () => {
  let app: TestApp;
  let development: string;
  let production: string;
  /** Every response body a connect-session caller received. */
  const sessionResponses: string[] = [];

  async function run(
    query: string,
    variables: Record<string, unknown> = {},
    key: string | null = app.adminKey,
  ): Promise<Result> {
    const response = await app.request("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    if (key?.startsWith("kpcs_")) sessionResponses.push(text);
    return JSON.parse(text) as Result;
  }
  const codes = (result: Result) => (result.errors ?? []).map((e) => e.extensions?.code);
  function data<T = Record<string, any>>(result: Result): T {
    if (result.errors?.length || !result.data) {
      throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    }
    return result.data as T;
  }

  const createSessionDoc = `mutation ($input: CreateConnectSessionInput!) {
    createConnectSession(input: $input) {
      __typename
      ... on CreateConnectSessionSuccess { token expiresAt session { externalUserId providerKeys expiresAt environment { id slug } } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

  async function session(input: Record<string, unknown>, key = app.adminKey) {
    const result = data(await run(createSessionDoc, { input }, key)).createConnectSession;
    if (result.__typename !== "CreateConnectSessionSuccess") {
      throw new Error(`createConnectSession failed: ${JSON.stringify(result)}`);
    }
    return result as { token: string; expiresAt: string };
  }

  const createCredentialDoc = `mutation ($input: CreateCredentialInput!) {
    createCredential(input: $input) {
      __typename
      ... on CreateCredentialSuccess { credentialId credential { ... on CredentialBase { id externalUserId providerKey status } } }
      ... on ValidationError { fieldErrors { path message } }
    }
  }`;

  async function adminCredential(input: Record<string, unknown>) {
    const result = data(
      await run(createCredentialDoc, {
        input: { name: "seeded", environmentId: development, ...input },
      }),
    ).createCredential;
    if (result.__typename !== "CreateCredentialSuccess") {
      throw new Error(`createCredential failed: ${JSON.stringify(result)}`);
    }
    return result.credentialId as string;
  }

  beforeAll(async () => {
    app = await startTestApp();
    const viewer = data(await run(`{ viewer { workspace { environments { id slug } } } }`)).viewer;
    const environments = viewer.workspace.environments as { id: string; slug: string }[];
    development = environments.find((e) => e.slug === "development")?.id ?? "";
    production = environments.find((e) => e.slug === "production")?.id ?? "";
  });
  afterAll(() => app.close());

  it("creates a session whose token is kpcs_-prefixed, 30 minutes by default", async () => {
    const before = Date.now();
    const created = await session({ environmentId: development, externalUserId: "user-a" });
    expect(created.token).toMatch(/^kpcs_[A-Za-z0-9_-]{43}$/);
    const lifetime = new Date(created.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(29 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 60_000 + 5_000);
    const viewer = data(
      await run(
        `{ viewer { scopes connectSession { externalUserId providerKeys expiresAt environment { id } } } }`,
        {},
        created.token,
      ),
    ).viewer;
    expect(viewer.scopes).toEqual(["connect"]);
    expect(viewer.connectSession).toEqual({
      externalUserId: "user-a",
      providerKeys: [],
      expiresAt: created.expiresAt,
      environment: { id: development },
    });
    const admin = data(await run(`{ viewer { connectSession { externalUserId } } }`)).viewer;
    expect(admin.connectSession).toBeNull();
  });

  it("lets a session create and list only its own user's credentials", async () => {
    const b = await adminCredential({
      externalUserId: "user-b",
      bearer: { token: canary },
    });
    const { token } = await session({ environmentId: development, externalUserId: "user-a" });
    const created = data(
      await run(createCredentialDoc, { input: { name: "mine", bearer: { token: canary } } }, token),
    ).createCredential;
    expect(created.__typename).toBe("CreateCredentialSuccess");
    expect(created.credential.externalUserId).toBe("user-a");
    const list = data(
      await run(`{ credentials { edges { node { id externalUserId } } } }`, {}, token),
    ).credentials;
    const ids = list.edges.map((e: { node: { id: string } }) => e.node.id);
    expect(ids).toContain(created.credentialId);
    expect(ids).not.toContain(b);
  });
});
