// Connectors: CRUD, validation, filters and pagination, tenancy, scopes on every path
// (connector, connectors, node, Credential.connectors), environment-limited keys, and listing
// without N+1 queries.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import {
  ConnectorNamesQuery,
  ConnectorNodeQuery,
  ConnectorQuery,
  ConnectorsQuery,
  ConnectorsWithCredentialQuery,
  CreateConnectorIdOnlyMutation,
  CreateConnectorMutation,
  CredentialConnectorsQuery,
  CredentialsWithConnectorsQuery,
  DeleteConnectorMutation,
  UpdateConnectorMutation,
} from "../helpers/connector-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";
import { CreateApiKeyMutation, CreateWorkspaceMutation } from "../helpers/documents.js";

let counter = 0;
const unique = (label: string) => `${label} ${++counter}`;

describe("connectors", () => {
  let app: TestApp;
  let env: Record<string, string>;
  let devCredential: { id: string; name: string };
  let otherDevCredential: { id: string; name: string };
  let prodCredential: { id: string; name: string };
  beforeAll(async () => {
    app = await startTestApp();
    env = await environmentIds(app);
    devCredential = await createCredential(app, {
      name: "dev bearer",
      bearer: { token: "dev-bearer-token-value" },
    });
    otherDevCredential = await createCredential(app, {
      name: "dev basic",
      basic: { username: "u", password: "dev-basic-password" },
    });
    prodCredential = await createCredential(app, {
      name: "prod bearer",
      environmentId: env.production,
      bearer: { token: "prod-bearer-token-value" },
    });
  }, 60_000);
  afterAll(() => app?.close());

  async function create(
    input: { name?: string; appKey?: string; credentialId?: string; environmentId?: string },
    key = app.adminKey,
  ) {
    return dataOf(
      await app.execute(
        CreateConnectorMutation,
        {
          input: {
            name: input.name ?? unique("connector"),
            appKey: input.appKey ?? "github",
            environmentId: input.environmentId ?? env.development,
            credentialId: input.credentialId ?? devCredential.id,
          },
        },
        { key },
      ),
    ).createConnector;
  }
  async function created(input: Parameters<typeof create>[0] = {}, key = app.adminKey) {
    const result = await create(input, key);
    if (result.__typename !== "CreateConnectorSuccess") throw new Error(JSON.stringify(result));
    return result.connector;
  }
  const update = async (input: Record<string, unknown>, key = app.adminKey) =>
    dataOf(await app.execute(UpdateConnectorMutation, { input: input as never }, { key }))
      .updateConnector;

  it("creates, reads (connector, node), renames, pauses, resumes, switches credential and deletes", async () => {
    const connector = await created({ name: "  GitHub sync  ", appKey: "github" });
    expect(connector).toMatchObject({
      __typename: "Connector",
      name: "GitHub sync",
      appKey: "github",
      status: "ACTIVE",
      credentialId: devCredential.id,
      environment: { slug: "development" },
      credential: { __typename: "BearerCredential", id: devCredential.id, name: "dev bearer" },
    });
    expect(dataOf(await app.execute(ConnectorQuery, { id: connector.id })).connector).toEqual(
      connector,
    );
    expect(dataOf(await app.execute(ConnectorNodeQuery, { id: connector.id })).node).toEqual({
      __typename: "Connector",
      id: connector.id,
      name: "GitHub sync",
      status: "ACTIVE",
    });

    expect(await update({ id: connector.id, name: "GitHub mirror" })).toMatchObject({
      __typename: "UpdateConnectorSuccess",
      connector: { name: "GitHub mirror", status: "ACTIVE" },
    });
    expect(await update({ id: connector.id, status: "PAUSED" })).toMatchObject({
      connector: { status: "PAUSED", credentialId: devCredential.id },
    });
    expect(await update({ id: connector.id, status: "ACTIVE" })).toMatchObject({
      connector: { status: "ACTIVE" },
    });
    expect(await update({ id: connector.id, credentialId: otherDevCredential.id })).toMatchObject({
      connector: {
        status: "ACTIVE",
        credentialId: otherDevCredential.id,
        credential: { __typename: "BasicCredential", name: "dev basic" },
      },
    });

    const deleted = dataOf(
      await app.execute(DeleteConnectorMutation, { input: { id: connector.id } }),
    ).deleteConnector;
    expect(deleted).toEqual({
      __typename: "DeleteConnectorSuccess",
      deletedConnectorId: connector.id,
    });
    expect(dataOf(await app.execute(ConnectorQuery, { id: connector.id })).connector).toBeNull();
    expect(dataOf(await app.execute(ConnectorNodeQuery, { id: connector.id })).node).toBeNull();
    const again = dataOf(
      await app.execute(DeleteConnectorMutation, { input: { id: connector.id } }),
    ).deleteConnector;
    expect(again.__typename).toBe("NotFoundError");
    // Every change is audited.
    const actions = await app.database.prisma.auditEvent.findMany({
      where: {
        objectType: "Connector",
        objectId: Buffer.from(connector.id, "base64").toString().split(":")[1] ?? "",
      },
      select: { action: true },
    });
    expect(actions.map((a) => a.action)).toEqual(
      expect.arrayContaining(["connector.create", "connector.update", "connector.delete"]),
    );
  });

  it("validates names, app keys and uniqueness with typed field errors", async () => {
    const cases: [Record<string, string>, string[]][] = [
      [{ name: "   " }, ["input", "name"]],
      [{ name: "x".repeat(201) }, ["input", "name"]],
      [{ name: "two\nlines" }, ["input", "name"]],
      [{ appKey: "Not A Slug" }, ["input", "appKey"]],
      [{ appKey: "" }, ["input", "appKey"]],
    ];
    for (const [input, path] of cases) {
      const result = await create(input);
      expect(result, JSON.stringify(input)).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path }],
      });
    }
    await created({ name: "taken" });
    expect(await create({ name: " taken " })).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "name"], message: "is already used in this environment" }],
    });
    // The same name in another environment is fine.
    expect(
      (
        await create({
          name: "taken",
          environmentId: env.production,
          credentialId: prodCredential.id,
        })
      ).__typename,
    ).toBe("CreateConnectorSuccess");
    const connector = await created();
    expect(await update({ id: connector.id, name: "taken" })).toMatchObject({
      fieldErrors: [{ path: ["input", "name"] }],
    });
    expect(await update({ id: connector.id, status: "NEEDS_CREDENTIAL" })).toMatchObject({
      fieldErrors: [{ path: ["input", "status"] }],
    });
    expect(await update({ id: connector.id, credentialId: null })).toMatchObject({
      fieldErrors: [{ path: ["input", "credentialId"] }],
    });
    expect(await update({ id: "not-an-id" })).toMatchObject({
      fieldErrors: [{ path: ["input", "id"] }],
    });
    expect(await create({ credentialId: "not-an-id" })).toMatchObject({
      fieldErrors: [{ path: ["input", "credentialId"] }],
    });
  });

  it("refuses a credential of another environment or workspace with a field error", async () => {
    const before = await app.database.prisma.connector.count();
    expect(await create({ credentialId: prodCredential.id })).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [
        {
          path: ["input", "credentialId"],
          message: "must be a credential of the connector's environment",
        },
      ],
    });
    const connector = await created();
    expect(await update({ id: connector.id, credentialId: prodCredential.id })).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "credentialId"] }],
    });

    const workspace = dataOf(
      await app.execute(CreateWorkspaceMutation, { input: { slug: "other-ws", name: "Other" } }),
    ).createWorkspace;
    if (workspace.__typename !== "CreateWorkspaceSuccess")
      throw new Error(JSON.stringify(workspace));
    const foreignEnv = await environmentIds(app, workspace.adminApiKey);
    const foreignCredential = await createCredential(
      app,
      {
        name: "foreign",
        environmentId: foreignEnv.development,
        bearer: { token: "foreign-token-value" },
      },
      workspace.adminApiKey,
    );
    const foreign = await create({ credentialId: foreignCredential.id });
    const missing = await create({
      credentialId: foreignCredential.id.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
    });
    expect(foreign).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "credentialId"], message: "no such credential" }],
    });
    expect(JSON.stringify(foreign)).not.toContain("foreign");
    expect(missing.__typename).toBe("ValidationError");
    expect(await update({ id: connector.id, credentialId: foreignCredential.id })).toMatchObject({
      fieldErrors: [{ path: ["input", "credentialId"], message: "no such credential" }],
    });
    // The other workspace sees none of ours, and we none of its.
    const foreignConnector = await created(
      { environmentId: foreignEnv.development, credentialId: foreignCredential.id },
      workspace.adminApiKey,
    );
    expect(
      dataOf(await app.execute(ConnectorQuery, { id: foreignConnector.id })).connector,
    ).toBeNull();
    expect(
      dataOf(await app.execute(ConnectorNodeQuery, { id: foreignConnector.id })).node,
    ).toBeNull();
    expect(
      dataOf(
        await app.execute(ConnectorQuery, { id: connector.id }, { key: workspace.adminApiKey }),
      ).connector,
    ).toBeNull();
    expect(await update({ id: foreignConnector.id, name: "hijacked" })).toMatchObject({
      __typename: "NotFoundError",
    });
    expect(
      dataOf(await app.execute(DeleteConnectorMutation, { input: { id: foreignConnector.id } }))
        .deleteConnector.__typename,
    ).toBe("NotFoundError");
    expect(await app.database.prisma.connector.count()).toBe(before + 2);
  });

  it("filters by environment, credential, status and search, and pages with first/after", async () => {
    const appKey = `filter-${Date.now()}`;
    const names: string[] = [];
    for (let i = 0; i < 5; i++) {
      const connector = await created({
        name: `Filter ${i}`,
        appKey,
        credentialId: i % 2 === 0 ? devCredential.id : otherDevCredential.id,
      });
      names.push(connector.name);
      if (i === 4) await update({ id: connector.id, status: "PAUSED" });
    }
    const list = async (filter: Record<string, unknown>, first = 50, after?: string) =>
      dataOf(await app.execute(ConnectorNamesQuery, { first, after, filter: filter as never }))
        .connectors;
    const namesOf = (page: Awaited<ReturnType<typeof list>>) => page.edges.map((e) => e.node.name);

    expect(namesOf(await list({ search: appKey.toUpperCase() }))).toEqual(names);
    expect(namesOf(await list({ search: "filter 3" }))).toEqual(["Filter 3"]);
    expect(namesOf(await list({ search: appKey, credentialId: otherDevCredential.id }))).toEqual([
      "Filter 1",
      "Filter 3",
    ]);
    expect(namesOf(await list({ search: appKey, status: "PAUSED" }))).toEqual(["Filter 4"]);
    expect(namesOf(await list({ search: appKey, environmentId: env.production }))).toEqual([]);
    expect(namesOf(await list({ search: appKey, environmentId: env.development }))).toHaveLength(5);
    expect(namesOf(await list({ search: appKey, credentialId: "garbage" }))).toEqual([]);

    const first = await list({ search: appKey }, 2);
    expect(namesOf(first)).toEqual(["Filter 0", "Filter 1"]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await list({ search: appKey }, 2, first.pageInfo.endCursor ?? "");
    expect(namesOf(second)).toEqual(["Filter 2", "Filter 3"]);
    const third = await list({ search: appKey }, 2, second.pageInfo.endCursor ?? "");
    expect(namesOf(third)).toEqual(["Filter 4"]);
    expect(third.pageInfo.hasNextPage).toBe(false);

    // Credential.connectors pages the same way.
    const page = async (after?: string) =>
      dataOf(
        await app.execute(CredentialConnectorsQuery, {
          id: otherDevCredential.id,
          first: 1,
          after,
        }),
      ).credential;
    const one = await page();
    if (!one || !("connectors" in one)) throw new Error("no connectors field");
    expect(one.connectors.edges).toHaveLength(1);
    expect(one.connectors.pageInfo.hasNextPage).toBe(true);
    const all = dataOf(
      await app.execute(CredentialConnectorsQuery, { id: otherDevCredential.id, first: 100 }),
    ).credential;
    if (!all || !("connectors" in all)) throw new Error("no connectors field");
    expect(all.connectors.edges.map((e) => e.node.name)).toEqual(
      expect.arrayContaining(["Filter 1", "Filter 3"]),
    );
  });

  describe("scopes on every path", () => {
    let connectorId: string;
    const keys: Record<string, string> = {};
    beforeAll(async () => {
      connectorId = (await created({ name: "scoped" })).id;
      keys.connectorsRead = await createKey(app, ["connectors:read"]);
      keys.connectorsWrite = await createKey(app, ["connectors:write"]);
      keys.credentialsRead = await createKey(app, ["credentials:read"]);
      keys.both = await createKey(app, ["connectors:read", "credentials:read"]);
    });

    it("connectors:read reads connector, connectors and node; Connector.credential is null without credentials:read", async () => {
      for (const key of [keys.connectorsRead, keys.both] as string[]) {
        const one = await app.execute(ConnectorQuery, { id: connectorId }, { key });
        expect(one.errors).toBeUndefined();
        const expectedCredential =
          key === keys.both ? { id: devCredential.id, name: "dev bearer" } : null;
        expect(dataOf(one).connector).toMatchObject({
          name: "scoped",
          credentialId: devCredential.id,
          credential: expectedCredential,
        });
        const list = await app.execute(ConnectorsQuery, { first: 100 }, { key });
        expect(list.errors).toBeUndefined();
        expect(dataOf(list).connectors.edges.length).toBeGreaterThan(0);
        expect(
          dataOf(await app.execute(ConnectorNodeQuery, { id: connectorId }, { key })).node,
        ).toMatchObject({ name: "scoped" });
      }
    });

    it("refuses readers without connectors:read on connector, connectors, node and Credential.connectors", async () => {
      for (const key of [keys.connectorsWrite, keys.credentialsRead] as string[]) {
        const attempts = [
          await app.execute(ConnectorQuery, { id: connectorId }, { key }),
          await app.execute(ConnectorsQuery, { first: 5 }, { key }),
          await app.execute(ConnectorNodeQuery, { id: connectorId }, { key }),
        ];
        for (const result of attempts) {
          expect(errorCodes(result)).toContain("FORBIDDEN");
          expect(JSON.stringify(result.data ?? null)).not.toContain("scoped");
        }
      }
      const nested = await app.execute(
        CredentialConnectorsQuery,
        { id: devCredential.id, first: 100 },
        { key: keys.credentialsRead },
      );
      expect(errorCodes(nested)).toContain("FORBIDDEN");
      expect(JSON.stringify(nested.data ?? null)).not.toContain("scoped");
      const allowed = await app.execute(
        CredentialConnectorsQuery,
        { id: devCredential.id, first: 100 },
        { key: keys.both },
      );
      expect(JSON.stringify(dataOf(allowed))).toContain("scoped");
    });

    it("connectors:write alone may change connectors and learns their ids, not their content", async () => {
      const result = dataOf(
        await app.execute(
          CreateConnectorIdOnlyMutation,
          {
            input: {
              name: "by writer",
              appKey: "slack",
              environmentId: env.development,
              credentialId: devCredential.id,
            },
          },
          { key: keys.connectorsWrite },
        ),
      ).createConnector;
      expect(result.__typename).toBe("CreateConnectorSuccess");
      const full = await app.execute(
        CreateConnectorMutation,
        {
          input: {
            name: "by writer 2",
            appKey: "slack",
            environmentId: env.development,
            credentialId: devCredential.id,
          },
        },
        { key: keys.connectorsWrite },
      );
      expect(errorCodes(full)).toContain("FORBIDDEN");
      for (const key of [keys.connectorsRead, keys.credentialsRead] as string[]) {
        const refused = await app.execute(
          DeleteConnectorMutation,
          { input: { id: connectorId } },
          { key },
        );
        expect(errorCodes(refused)).toEqual(["FORBIDDEN"]);
      }
      expect(
        dataOf(await app.execute(ConnectorQuery, { id: connectorId })).connector,
      ).not.toBeNull();
    });

    it("an environment-limited key sees and changes only its environment's connectors", async () => {
      const prodConnector = await created({
        name: "prod only",
        environmentId: env.production,
        credentialId: prodCredential.id,
      });
      const made = dataOf(
        await app.execute(CreateApiKeyMutation, {
          input: {
            name: "dev connectors",
            scopes: ["connectors:read", "connectors:write", "credentials:read"],
            environmentId: env.development,
          },
        }),
      ).createApiKey;
      if (made.__typename !== "CreateApiKeySuccess") throw new Error(JSON.stringify(made));
      const devKey = made.key;
      const listed = dataOf(
        await app.execute(ConnectorsQuery, { first: 100 }, { key: devKey }),
      ).connectors.edges.map((e) => e.node);
      expect(listed.length).toBeGreaterThan(0);
      expect(listed.every((c) => c.environment.slug === "development")).toBe(true);
      expect(
        dataOf(
          await app.execute(
            ConnectorsQuery,
            { first: 100, filter: { environmentId: env.production } },
            { key: devKey },
          ),
        ).connectors.edges,
      ).toEqual([]);
      expect(
        dataOf(await app.execute(ConnectorQuery, { id: prodConnector.id }, { key: devKey }))
          .connector,
      ).toBeNull();
      expect(
        dataOf(await app.execute(ConnectorNodeQuery, { id: prodConnector.id }, { key: devKey }))
          .node,
      ).toBeNull();
      expect(
        dataOf(
          await app.execute(CredentialConnectorsQuery, { id: prodCredential.id }, { key: devKey }),
        ).credential,
      ).toBeNull();
      expect(await update({ id: prodConnector.id, name: "renamed" }, devKey)).toMatchObject({
        __typename: "NotFoundError",
      });
      expect(
        dataOf(
          await app.execute(
            DeleteConnectorMutation,
            { input: { id: prodConnector.id } },
            { key: devKey },
          ),
        ).deleteConnector.__typename,
      ).toBe("NotFoundError");
      // Creating in another environment, or with another environment's credential, is refused.
      expect(
        await create({ environmentId: env.production, credentialId: prodCredential.id }, devKey),
      ).toMatchObject({ fieldErrors: [{ path: ["input", "environmentId"] }] });
      const ownEnv = dataOf(
        await app.execute(
          CreateConnectorMutation,
          { input: { name: "dev made", appKey: "x", credentialId: prodCredential.id } },
          { key: devKey },
        ),
      ).createConnector;
      expect(ownEnv).toMatchObject({
        fieldErrors: [{ path: ["input", "credentialId"], message: "no such credential" }],
      });
      const own = dataOf(
        await app.execute(
          CreateConnectorMutation,
          { input: { name: "dev made", appKey: "x", credentialId: devCredential.id } },
          { key: devKey },
        ),
      ).createConnector;
      expect(own).toMatchObject({ connector: { environment: { slug: "development" } } });
      expect(
        (
          await app.database.prisma.connector.findUniqueOrThrow({
            where: { id: Buffer.from(prodConnector.id, "base64").toString().split(":")[1] },
          })
        ).name,
      ).toBe("prod only");
    });
  });
});

describe("connector listing", () => {
  let app: TestApp;
  let statements: string[] = [];
  beforeAll(async () => {
    app = await startTestApp({ onQuery: (sql) => statements.push(sql) });
    const env = await environmentIds(app);
    const credentials: string[] = [];
    for (let i = 0; i < 25; i++) {
      const credential = await createCredential(app, {
        name: `listed credential ${String(i).padStart(3, "0")}`,
        bearer: { token: `listed-token-value-${i}` },
      });
      credentials.push(credential.id);
    }
    for (let i = 0; i < 100; i++) {
      const result = dataOf(
        await app.execute(CreateConnectorIdOnlyMutation, {
          input: {
            name: `listed ${String(i).padStart(3, "0")}`,
            appKey: "app",
            environmentId: env.development,
            credentialId: credentials[i % credentials.length] ?? "",
          },
        }),
      ).createConnector;
      if (result.__typename !== "CreateConnectorSuccess") throw new Error(JSON.stringify(result));
    }
    // Let the admin key's lastUsedAt write settle so it stays out of the counts.
    await new Promise((resolve) => setTimeout(resolve, 100));
  }, 180_000);
  afterAll(() => app?.close());

  async function countStatements<T>(run: () => Promise<T>) {
    statements = [];
    const result = await run();
    return { result, count: statements.length };
  }

  it("lists 10 or 100 connectors with their credential in the same number of statements", async () => {
    const small = await countStatements(() =>
      app.execute(ConnectorsWithCredentialQuery, { first: 10 }),
    );
    const large = await countStatements(() =>
      app.execute(ConnectorsWithCredentialQuery, { first: 100 }),
    );
    expect(dataOf(small.result).connectors.edges).toHaveLength(10);
    const edges = dataOf(large.result).connectors.edges;
    expect(edges).toHaveLength(100);
    expect(edges[42]?.node).toMatchObject({
      name: "listed 042",
      environment: { slug: "development" },
      credential: { name: "listed credential 017", environment: { slug: "development" } },
    });
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(6);
  });

  it("lists credentials with their connectors in the same number of statements", async () => {
    const small = await countStatements(() =>
      app.execute(CredentialsWithConnectorsQuery, { first: 3 }),
    );
    const large = await countStatements(() =>
      app.execute(CredentialsWithConnectorsQuery, { first: 25 }),
    );
    const edges = dataOf(large.result).credentials.edges;
    expect(edges).toHaveLength(25);
    expect(edges[0]?.node.connectors.edges.map((e) => e.node.name)).toEqual([
      "listed 000",
      "listed 025",
      "listed 050",
      "listed 075",
    ]);
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(6);
  });
});
