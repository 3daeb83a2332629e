// Connect sessions: a browser-safe token limited to one end user in one environment (and to some
// providers), checked as a matrix: every operation × a session for user A against user A's
// credentials, user B's, another environment's and another provider's.
import type { Server } from "node:http";
import { decodeGlobalID, encodeGlobalID } from "@pothos/plugin-relay";
import { parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceDepsOf } from "../../src/context.js";
import { withCredentialEvents } from "../../src/modules/credentials/history.js";
import { formatEventId } from "../../src/modules/events/events.service.js";
import { callerWatchOf } from "../../src/modules/subscriptions/caller-watch.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { eventually, subscribe } from "../helpers/subscribers.js";

type GraphQLResult = {
  data?: Record<string, unknown> | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};
// biome-ignore lint/suspicious/noExplicitAny: test results are walked by field name
type Data = any;

const canaries = {
  token: "CANARY-connect-token-7f3a9c2e11d84b6a",
  clientSecret: "CANARY-connect-client-secret-0b5e2d4c6a",
  foreignToken: "CANARY-connect-foreign-token-9d1e77aa3c",
};
const missingId = encodeGlobalID("BearerCredential", "01900000-0000-7000-8000-000000000000");
const missingOAuthId = encodeGlobalID("OAuth2Credential", "01900000-0000-7000-8000-000000000000");

let app: TestApp;
let server: Server;
let origin: string;
let workspaceId: string;
let development: string;
let production: string;
/** Every response body a connect-session caller received. */
const sessionResponses: string[] = [];

async function run(
  query: string,
  variables: Record<string, unknown> = {},
  key: string | null = app.adminKey,
): Promise<GraphQLResult> {
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
  return JSON.parse(text) as GraphQLResult;
}
const codes = (result: GraphQLResult) => (result.errors ?? []).map((e) => e.extensions?.code);
function data(result: GraphQLResult): Data {
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

const createSessionDoc = `mutation ($input: CreateConnectSessionInput!) {
  createConnectSession(input: $input) {
    __typename
    ... on CreateConnectSessionSuccess {
      token expiresAt
      session { externalUserId providerKeys expiresAt environment { id } }
    }
    ... on ValidationError { fieldErrors { path message } }
  }
}`;

async function createSession(input: Record<string, unknown>, key = app.adminKey) {
  const result = data(await run(createSessionDoc, { input }, key)).createConnectSession;
  if (result.__typename !== "CreateConnectSessionSuccess") {
    throw new Error(`createConnectSession failed: ${JSON.stringify(result)}`);
  }
  return result as { token: string; expiresAt: string };
}

const createCredentialDoc = `mutation ($input: CreateCredentialInput!) {
  createCredential(input: $input) {
    __typename
    ... on CreateCredentialSuccess {
      credentialId
      credential { ... on CredentialBase { id externalUserId providerKey environment { id } } }
    }
    ... on ValidationError { fieldErrors { path message } }
  }
}`;

async function adminCredential(input: Record<string, unknown>): Promise<string> {
  const result = data(
    await run(createCredentialDoc, { input: { environmentId: development, ...input } }),
  ).createCredential;
  if (result.__typename !== "CreateCredentialSuccess") {
    throw new Error(`createCredential failed: ${JSON.stringify(result)}`);
  }
  return result.credentialId;
}

const bearer = (token = canaries.token) => ({ bearer: { token } });
const oauth2 = () => ({
  oauth2: {
    clientId: "client",
    clientSecret: canaries.clientSecret,
    authorizationUrl: "https://auth.example/authorize",
    tokenUrl: "https://auth.example/token",
    scopes: ["read"],
  },
});

/** The seeded credentials. */
const ids = {} as Record<
  "aBearer" | "aOAuth" | "aOtherProvider" | "bBearer" | "bOAuth" | "aProduction",
  string
>;

beforeAll(async () => {
  app = await startTestApp({ env: { SUBSCRIPTION_RECHECK_INTERVAL: "200ms" } });
  server = app.keyport.createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const viewer = data(await run(`{ viewer { workspace { id environments { id slug } } } }`)).viewer;
  const environments = viewer.workspace.environments as { id: string; slug: string }[];
  development = environments.find((e) => e.slug === "development")?.id ?? "";
  production = environments.find((e) => e.slug === "production")?.id ?? "";
  const [row] = await app.database.query<{ id: string }>(`SELECT "id" FROM "Workspace" LIMIT 1`);
  workspaceId = row?.id ?? "";
  const github = { providerKey: "acme-git" };
  ids.aBearer = await adminCredential({
    name: "a",
    externalUserId: "user-a",
    ...github,
    ...bearer(),
  });
  ids.aOAuth = await adminCredential({
    name: "a-oauth",
    externalUserId: "user-a",
    ...github,
    ...oauth2(),
  });
  ids.aOtherProvider = await adminCredential({
    name: "a-slack",
    externalUserId: "user-a",
    providerKey: "acme-chat",
    ...bearer(),
  });
  ids.bBearer = await adminCredential({
    name: "b",
    externalUserId: "user-b",
    ...github,
    ...bearer(canaries.foreignToken),
  });
  ids.bOAuth = await adminCredential({
    name: "b-oauth",
    externalUserId: "user-b",
    ...github,
    ...oauth2(),
  });
  ids.aProduction = await adminCredential({
    name: "a-production",
    environmentId: production,
    externalUserId: "user-a",
    ...github,
    ...bearer(),
  });
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await app?.close();
});

describe("createConnectSession", () => {
  it("returns a kpcs_ token, 30 minutes by default, and viewer shows its limits", async () => {
    const before = Date.now();
    const created = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      providerKeys: ["acme-git"],
    });
    expect(created.token).toMatch(/^kpcs_[A-Za-z0-9_-]{43}$/);
    const lifetime = new Date(created.expiresAt).getTime() - before;
    expect(lifetime).toBeGreaterThan(29 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(30 * 60_000 + 5_000);
    const { viewer } = data(
      await run(
        `{ viewer { scopes connectSession { externalUserId providerKeys expiresAt environment { id } } workspace { environments { id } } } }`,
        {},
        created.token,
      ),
    );
    expect(viewer.scopes).toEqual(["connect"]);
    expect(viewer.connectSession).toEqual({
      externalUserId: "user-a",
      providerKeys: ["acme-git"],
      expiresAt: created.expiresAt,
      environment: { id: development },
    });
    expect(viewer.workspace.environments).toEqual([{ id: development }]);
    const admin = data(await run(`{ viewer { connectSession { externalUserId } } }`)).viewer;
    expect(admin.connectSession).toBeNull();
  });

  it("reads the provider catalog, so a credential screen can build its forms", async () => {
    const { token } = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      providerKeys: ["zendesk"],
    });
    const result = data(
      await run(
        `{ providers(filter: { search: "zendesk" }) { key authKinds }
           provider(key: "zendesk") {
             fields(authKind: BASIC) { name label type secret pattern required example location }
             connectionVariables { name location }
           } }`,
        {},
        token,
      ),
    );
    expect(result.providers).toEqual([{ key: "zendesk", authKinds: ["BASIC", "OAUTH2"] }]);
    expect(result.provider.connectionVariables).toEqual([
      { name: "subdomain", location: "CONNECTION_CONFIG" },
    ]);
    expect(
      result.provider.fields.map((f: { name: string; location: string }) => [f.name, f.location]),
    ).toEqual([
      ["subdomain", "CONNECTION_CONFIG"],
      ["username", "CREDENTIAL_INPUT"],
      ["password", "CREDENTIAL_INPUT"],
    ]);
    expect(result.provider.fields[2]).toMatchObject({ secret: true, type: "password" });
  });

  it("stores only the token's hash", async () => {
    const { token } = await createSession({ environmentId: development, externalUserId: "user-a" });
    const rows = await app.database.query<Record<string, unknown>>(
      `SELECT * FROM "ConnectSession"`,
    );
    expect(JSON.stringify(rows)).not.toContain(token);
    expect(JSON.stringify(rows)).not.toContain(token.slice(5));
  });

  it("accepts a lifetime from 60 s to 24 h and refuses others with a typed error", async () => {
    const day = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      ttlSeconds: 86_400,
    });
    expect(new Date(day.expiresAt).getTime() - Date.now()).toBeGreaterThan(86_390_000);
    for (const ttlSeconds of [86_401, 59, 0, -5]) {
      const result = data(
        await run(createSessionDoc, {
          input: { environmentId: development, externalUserId: "user-a", ttlSeconds },
        }),
      ).createConnectSession;
      expect(result.__typename, String(ttlSeconds)).toBe("ValidationError");
      expect(result.fieldErrors.map((e: { path: string[] }) => e.path)).toEqual([
        ["input", "ttlSeconds"],
      ]);
    }
    const bad = data(
      await run(createSessionDoc, {
        input: { environmentId: development, externalUserId: "", providerKeys: ["Not A Key"] },
      }),
    ).createConnectSession;
    expect(bad.__typename).toBe("ValidationError");
    expect(bad.fieldErrors.map((e: { path: string[] }) => e.path.join("."))).toEqual([
      "input.externalUserId",
      "input.providerKeys.0",
    ]);
  });

  it("needs credentials:write, and a key limited to an environment creates sessions only there", async () => {
    const keyDoc = `mutation ($input: CreateApiKeyInput!) {
      createApiKey(input: $input) { ... on CreateApiKeySuccess { key } }
    }`;
    const readOnly = data(
      await run(keyDoc, { input: { name: "read", scopes: ["credentials:read"] } }),
    ).createApiKey.key;
    expect(
      codes(
        await run(
          createSessionDoc,
          { input: { environmentId: development, externalUserId: "user-a" } },
          readOnly,
        ),
      ),
    ).toEqual(["FORBIDDEN"]);
    const limited = data(
      await run(keyDoc, {
        input: { name: "dev", scopes: ["credentials:write"], environmentId: development },
      }),
    ).createApiKey.key;
    const other = data(
      await run(
        createSessionDoc,
        { input: { environmentId: production, externalUserId: "user-a" } },
        limited,
      ),
    ).createConnectSession;
    expect(other.__typename).toBe("ValidationError");
    expect(other.fieldErrors[0].path).toEqual(["input", "environmentId"]);
    const own = await createSession({ externalUserId: "user-a" }, limited);
    const { viewer } = data(
      await run(`{ viewer { connectSession { environment { id } } } }`, {}, own.token),
    );
    expect(viewer.connectSession.environment.id).toBe(development);
  });
});

const readDoc = `query ($id: ID!) {
  credential(id: $id) {
    ... on CredentialBase { id externalUserId status history { edges { node { type status } } } }
  }
  node(id: $id) { id }
}`;
const secretsDoc = `query ($id: ID!) {
  credential(id: $id) {
    ... on BearerCredential { token { isSet preview fingerprint value } }
    ... on OAuth2Credential { clientSecret { isSet preview fingerprint value } }
  }
}`;
const listDoc = `query ($filter: CredentialFilter) {
  credentials(first: 100, filter: $filter) { edges { node { id } } }
}`;
const authorizeDoc = `mutation ($input: AuthorizeCredentialInput!) {
  authorizeCredential(input: $input) {
    __typename
    ... on AuthorizeCredentialSuccess { authorizationUrl state }
    ... on Error { message }
  }
}`;
const reauthorizeDoc = `mutation ($input: ReauthorizeCredentialInput!) {
  reauthorizeCredential(input: $input) {
    __typename
    ... on AuthorizeCredentialSuccess { authorizationUrl }
    ... on Error { message }
  }
}`;
const deleteDoc = `mutation ($input: DeleteCredentialInput!) {
  deleteCredential(input: $input) {
    __typename
    ... on DeleteCredentialSuccess { deletedCredentialId }
    ... on ValidationError { fieldErrors { path message } }
    ... on Error { message }
  }
}`;
const completeDoc = `mutation ($input: CompleteAuthorizationInput!) {
  completeAuthorization(input: $input) {
    __typename
    ... on CompleteAuthorizationSuccess { credentialId }
    ... on CredentialProviderError { code message }
    ... on Error { message }
  }
}`;

/** Operations a connect session never performs, whatever the target. */
const forbiddenOperations: [string, (id: string) => [string, Record<string, unknown>]][] = [
  [
    "acquireCredentialHeaders",
    (id) => [
      `mutation ($id: ID!) { acquireCredentialHeaders(input: { credentialId: $id }) { __typename } }`,
      { id },
    ],
  ],
  [
    "rotateCredential",
    (id) => [
      `mutation ($id: ID!) { rotateCredential(input: { id: $id, secret: { token: "new-token-value-123" } }) { __typename } }`,
      { id },
    ],
  ],
  [
    "updateCredential",
    (id) => [
      `mutation ($id: ID!) { updateCredential(input: { id: $id, name: "renamed" }) { __typename } }`,
      { id },
    ],
  ],
  [
    "createConnector",
    (id) => [
      `mutation ($id: ID!) { createConnector(input: { name: "c", appKey: "acme-git", credentialId: $id }) { __typename } }`,
      { id },
    ],
  ],
  ["connectors", () => [`{ connectors { edges { node { id } } } }`, {}]],
  [
    "createApiKey",
    () => [
      `mutation { createApiKey(input: { name: "k", scopes: ["credentials:read"] }) { __typename } }`,
      {},
    ],
  ],
  [
    "createConnectSession",
    () => [
      `mutation { createConnectSession(input: { externalUserId: "user-b" }) { __typename } }`,
      {},
    ],
  ],
  [
    "createEnvironment",
    () => [`mutation { createEnvironment(input: { slug: "x", name: "X" }) { __typename } }`, {}],
  ],
  [
    "createWorkspace",
    () => [`mutation { createWorkspace(input: { slug: "x", name: "X" }) { __typename } }`, {}],
  ],
  ["rewrapSecrets", () => [`mutation { rewrapSecrets(input: {}) { __typename } }`, {}]],
];

describe.each([
  { limit: "any provider", providerKeys: [] as string[] },
  { limit: "providers [acme-git]", providerKeys: ["acme-git"] },
])("a session for user A ($limit)", ({ providerKeys }) => {
  let token: string;
  /** Credentials the session may see, and those that must behave as missing. */
  let own: string[];
  let foreign: string[];
  beforeAll(async () => {
    ({ token } = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      providerKeys,
    }));
    own = [ids.aBearer, ids.aOAuth];
    foreign = [ids.bBearer, ids.bOAuth, ids.aProduction];
    if (providerKeys.length === 0) own.push(ids.aOtherProvider);
    else foreign.push(ids.aOtherProvider);
  });

  it("reads its own credentials by credential and node, and others as missing", async () => {
    for (const id of own) {
      const result = data(await run(readDoc, { id }, token));
      expect(result.credential.id).toBe(id);
      expect(result.credential.externalUserId).toBe("user-a");
      expect(Array.isArray(result.credential.history.edges)).toBe(true);
      expect(result.node.id).toBe(id);
    }
    const missing = JSON.stringify(await run(readDoc, { id: missingId }, token));
    expect(missing).toBe(JSON.stringify({ data: { credential: null, node: null } }));
    for (const id of foreign) {
      expect(JSON.stringify(await run(readDoc, { id }, token)), id).toBe(missing);
    }
  });

  it("lists exactly its own credentials; a filter cannot widen the list", async () => {
    const listed = (result: GraphQLResult) =>
      data(result).credentials.edges.map((edge: { node: { id: string } }) => edge.node.id);
    const all = listed(await run(listDoc, {}, token));
    for (const id of own) expect(all).toContain(id);
    for (const id of foreign) expect(all).not.toContain(id);
    for (const filter of [
      { externalUserId: "user-b" },
      { environmentId: production },
      { providerKey: "acme-chat" },
    ]) {
      const ids = listed(await run(listDoc, { filter }, token));
      for (const id of foreign) expect(ids, JSON.stringify(filter)).not.toContain(id);
    }
  });

  it("sees that secrets are set, never their value, preview or fingerprint", async () => {
    for (const id of own) {
      const { credential } = data(await run(secretsDoc, { id }, token));
      const secret = credential.token ?? credential.clientSecret;
      expect(secret).toEqual({ isSet: true, preview: null, fingerprint: null, value: null });
    }
    // The same fields for the admin key: a preview exists, so the session's null is a choice.
    const admin = data(await run(secretsDoc, { id: ids.aBearer })).credential;
    expect(admin.token.preview).toBe(`••••${canaries.token.slice(-4)}`);
  });

  it("authorizes and reauthorizes its own OAuth credential; others' are not found", async () => {
    const started = data(
      await run(authorizeDoc, { input: { id: ids.aOAuth } }, token),
    ).authorizeCredential;
    expect(started.__typename).toBe("AuthorizeCredentialSuccess");
    expect(started.authorizationUrl).toMatch(/^https:\/\/auth\.example\/authorize\?/);
    const again = data(
      await run(reauthorizeDoc, { input: { id: ids.aOAuth } }, token),
    ).reauthorizeCredential;
    expect(again.__typename).toBe("AuthorizeCredentialSuccess");
    const missing = JSON.stringify(
      await run(authorizeDoc, { input: { id: missingOAuthId } }, token),
    );
    expect(missing).toContain("NotFoundError");
    expect(JSON.stringify(await run(authorizeDoc, { input: { id: ids.bOAuth } }, token))).toBe(
      missing,
    );
    const missingRe = JSON.stringify(
      await run(reauthorizeDoc, { input: { id: missingOAuthId } }, token),
    );
    expect(JSON.stringify(await run(reauthorizeDoc, { input: { id: ids.bOAuth } }, token))).toBe(
      missingRe,
    );
  });

  it("cannot complete an authorization another user's credential started", async () => {
    const foreignState = data(await run(authorizeDoc, { input: { id: ids.bOAuth } }))
      .authorizeCredential.state as string;
    const unknown = JSON.stringify(
      await run(completeDoc, { input: { state: "x".repeat(43), code: "c" } }, token),
    );
    expect(unknown).toContain("AUTHORIZATION_FAILED");
    expect(
      JSON.stringify(await run(completeDoc, { input: { state: foreignState, code: "c" } }, token)),
    ).toBe(unknown);
    // The state was not claimed: its owner can still use it (the exchange then fails upstream,
    // with a different error than an unknown state).
    const owner = data(
      await run(completeDoc, { input: { state: foreignState, error: "access_denied" } }),
    ).completeAuthorization;
    expect(owner.message).not.toMatch(/Unknown, used or expired/);
  });

  it("deletes only its own credentials; others' are not found", async () => {
    const missing = JSON.stringify(await run(deleteDoc, { input: { id: missingId } }, token));
    expect(missing).toContain("NotFoundError");
    for (const id of foreign) {
      expect(JSON.stringify(await run(deleteDoc, { input: { id } }, token)), id).toBe(missing);
    }
    const throwaway = data(
      await run(
        createCredentialDoc,
        {
          input: {
            name: "throwaway",
            ...(providerKeys.length ? { providerKey: "acme-git" } : {}),
            ...bearer(),
          },
        },
        token,
      ),
    ).createCredential.credentialId;
    const forced = data(
      await run(deleteDoc, { input: { id: throwaway, force: true } }, token),
    ).deleteCredential;
    expect(forced.__typename).toBe("ValidationError");
    expect(forced.fieldErrors[0].path).toEqual(["input", "force"]);
    const deleted = data(
      await run(deleteDoc, { input: { id: throwaway } }, token),
    ).deleteCredential;
    expect(deleted).toEqual({
      __typename: "DeleteCredentialSuccess",
      deletedCredentialId: throwaway,
    });
    // The others are all still there.
    for (const id of foreign) {
      expect(data(await run(readDoc, { id })).credential.id).toBe(id);
    }
  });

  it("is FORBIDDEN to read the connectors of its own credential; another's is missing", async () => {
    const query = `query ($id: ID!) { credential(id: $id) { ... on CredentialBase { connectors { edges { node { id } } } } } }`;
    expect(codes(await run(query, { id: own[0] }, token))).toEqual(["FORBIDDEN"]);
    for (const id of foreign) {
      expect(await run(query, { id }, token)).toEqual({ data: { credential: null } });
    }
  });

  it("is FORBIDDEN to use, rotate, update, touch connectors, keys, sessions or workspaces", async () => {
    for (const [name, operation] of forbiddenOperations) {
      for (const id of [own[0] ?? "", foreign[0] ?? ""]) {
        const [query, variables] = operation(id);
        const result = await run(query, variables, token);
        expect(codes(result), `${name} on ${id}`).toEqual(["FORBIDDEN"]);
      }
    }
  });
});

describe("createCredential through a session", () => {
  it("forces the session's user and environment, and refuses other values with typed errors", async () => {
    const { token } = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      providerKeys: ["acme-git", "gitlab"],
    });
    const created = data(
      await run(
        createCredentialDoc,
        { input: { name: "new", providerKey: "gitlab", ...bearer() } },
        token,
      ),
    ).createCredential;
    expect(created.__typename).toBe("CreateCredentialSuccess");
    expect(created.credential.externalUserId).toBe("user-a");
    expect(created.credential.providerKey).toBe("gitlab");
    expect(created.credential.environment.id).toBe(development);
    const refused = async (input: Record<string, unknown>) => {
      const result = data(
        await run(createCredentialDoc, { input: { name: "x", ...bearer(), ...input } }, token),
      ).createCredential;
      expect(result.__typename, JSON.stringify(input)).toBe("ValidationError");
      return result.fieldErrors.map((e: { path: string[] }) => e.path.join("."));
    };
    expect(await refused({ providerKey: "acme-git", externalUserId: "user-b" })).toEqual([
      "input.externalUserId",
    ]);
    expect(await refused({ providerKey: "acme-git", environmentId: production })).toEqual([
      "input.environmentId",
    ]);
    expect(await refused({ providerKey: "acme-chat" })).toEqual(["input.providerKey"]);
    expect(await refused({})).toEqual(["input.providerKey"]);
    // The same user given explicitly is fine.
    const explicit = data(
      await run(
        createCredentialDoc,
        { input: { name: "y", providerKey: "acme-git", externalUserId: "user-a", ...bearer() } },
        token,
      ),
    ).createCredential;
    expect(explicit.__typename).toBe("CreateCredentialSuccess");
  });
});

const eventsDoc = parse(`subscription ($filter: CredentialEventsFilter) {
  credentialEvents(filter: $filter) { id type credential { ... on CredentialBase { id } } }
}`);

async function recordVerified(credentialGlobalId: string) {
  const { id } = decodeGlobalID(credentialGlobalId);
  return withCredentialEvents(serviceDepsOf(app.keyport.services), (_tx, record) =>
    record({ workspaceId, credentialId: id, type: "VERIFIED", status: "ACTIVE" }),
  );
}

describe("credentialEvents through a session", () => {
  it("streams its own user's events only, and ends when the session expires", async () => {
    const { token } = await createSession({
      environmentId: development,
      externalUserId: "user-a",
      providerKeys: ["acme-git"],
    });
    const watch = callerWatchOf(app.keyport.services);
    const before = watch.started;
    const sub = subscribe("sse-distinct", origin, token, eventsDoc as never, {});
    await eventually(() => watch.started > before, 10_000, "the subscription to start");
    // Others' events first, then the session's own: only the own one arrives.
    await recordVerified(ids.bBearer);
    await recordVerified(ids.aProduction);
    await recordVerified(ids.aOtherProvider);
    const own = await recordVerified(ids.aBearer);
    await sub.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sub.data.map((d: Data) => d.credentialEvents.id)).toEqual([own.id]);
    expect((sub.data[0] as Data).credentialEvents.credential.id).toBe(ids.aBearer);
    // Replay with `after` is filtered the same way.
    const replay = subscribe("sse-distinct", origin, token, eventsDoc as never, {
      filter: { after: "ce_0000000000000000000" },
    });
    // The stored events of user A's acme-git credentials in development (deleted ones included).
    const expected = (
      await app.database.query<{ eventId: string }>(
        `SELECT "id"::text AS "eventId" FROM "CredentialEvent" WHERE "externalUserId" = 'user-a'
           AND "providerKey" = 'acme-git' AND "environmentId" = $1 ORDER BY "id"`,
        [decodeGlobalID(development).id],
      )
    ).map((row) => formatEventId(BigInt(row.eventId)));
    expect(expected.length).toBeGreaterThanOrEqual(1);
    await replay.waitFor(expected.length);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(JSON.stringify(replay.data.map((d: Data) => d.credentialEvents.id))).toBe(
      JSON.stringify(expected),
    );
    sessionResponses.push(JSON.stringify(replay.results));
    await replay.dispose();
    // Expiry: move the row's expiresAt into the past; the stream ends within an interval.
    await app.database.query(
      `UPDATE "ConnectSession" SET "expiresAt" = now() - interval '1 second' WHERE "externalUserId" = 'user-a' AND "providerKeys" = ARRAY['acme-git']`,
    );
    await sub.waitFor(2);
    expect(JSON.stringify(sub.results.at(-1))).toContain("CREDENTIALS_EXPIRED");
    sessionResponses.push(JSON.stringify(sub.results));
    await sub.dispose();
  });

  it("is FORBIDDEN for credentialInvalidated and connectorCredentialStatus", async () => {
    const { token } = await createSession({ environmentId: development, externalUserId: "user-a" });
    for (const query of [
      `subscription { credentialInvalidated { id } }`,
      `subscription { connectorCredentialStatus(connectorId: "x") { id } }`,
    ]) {
      const sub = subscribe("sse-distinct", origin, token, parse(query) as never, {});
      await sub.ended;
      expect(JSON.stringify(sub.results) + String(await sub.ended)).toContain("FORBIDDEN");
      await sub.dispose();
    }
  });
});

describe("tokens", () => {
  it("stops at expiry with UNAUTHENTICATED", async () => {
    const { token } = await createSession({
      environmentId: development,
      externalUserId: "user-expiring",
    });
    expect(data(await run(`{ viewer { scopes } }`, {}, token)).viewer.scopes).toEqual(["connect"]);
    await app.database.query(
      `UPDATE "ConnectSession" SET "expiresAt" = now() - interval '1 second' WHERE "externalUserId" = 'user-expiring'`,
    );
    for (const query of [`{ viewer { scopes } }`, listDoc]) {
      const result = await run(query, {}, token);
      expect(codes(result)).toEqual(["UNAUTHENTICATED"]);
      expect(result.errors?.[0]?.message).toMatch(/expired connect token/);
    }
  });

  it("is not accepted where an API key is parsed, and an API key is not a session token", async () => {
    const { token } = await createSession({ environmentId: development, externalUserId: "user-a" });
    const body = token.slice("kpcs_".length);
    const adminBody = app.adminKey.slice("kp_".length);
    for (const key of [
      `kp_${body}`,
      `kpcs_${adminBody}`,
      `${token}x`,
      `kpcs_${"A".repeat(43)}`,
      token.replace(/^kpcs_/, "KPCS_"),
    ]) {
      expect(codes(await run(`{ viewer { scopes } }`, {}, key)), key.slice(0, 8)).toEqual([
        "UNAUTHENTICATED",
      ]);
    }
  });
});

describe("canaries", () => {
  it("never reach any response a session caller received", () => {
    expect(sessionResponses.length).toBeGreaterThan(50);
    const all = sessionResponses.join("\n");
    for (const canary of Object.values(canaries)) {
      expect(all).not.toContain(canary);
      // Nor the last characters a preview would show.
      expect(all).not.toContain(`••••${canary.slice(-4)}`);
    }
  });
});
