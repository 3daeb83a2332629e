// The connector-service subscriber from the README, run against keyport: it pauses the connectors
// of an invalidated credential, remembers the last event it handled, and after being offline it
// resumes from there and catches up with what happened meanwhile.
import type { Server } from "node:http";
import { createClient } from "graphql-sse";
import { afterAll, beforeAll, expect, it } from "vitest";
import { serviceDepsOf } from "../../src/context.js";
import { withCredentialEvents } from "../../src/modules/credentials/history.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { ConnectorQuery, CreateConnectorIdOnlyMutation } from "../helpers/connector-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";
import { eventually } from "../helpers/subscribers.js";

let app: TestApp;
let server: Server;
let origin: string;

beforeAll(async () => {
  app = await startTestApp();
  server = app.keyport.createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await app?.close();
});

type Invalidation = {
  id: string;
  type: string;
  reason: { code: string; message: string } | null;
  dependentConnectors: { id: string; name: string; status: string }[];
};

/** The README's subscriber, with its state in memory and a way to stop it. */
function connectorService(url: string, key: string, state: { lastEventId: string | null }) {
  const client = createClient({
    url: `${url}/graphql/stream`,
    headers: { authorization: `Bearer ${key}` },
    retryAttempts: 5,
  });
  const pause = async (connectorId: string) => {
    const response = await fetch(`${url}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({
        query: `mutation ($input: UpdateConnectorInput!) {
          updateConnector(input: $input) { __typename ... on Error { message } }
        }`,
        variables: { input: { id: connectorId, status: "PAUSED" } },
      }),
    });
    const { data } = (await response.json()) as {
      data?: { updateConnector: { __typename: string } };
    };
    if (data?.updateConnector.__typename !== "UpdateConnectorSuccess") {
      throw new Error(`could not pause ${connectorId}: ${JSON.stringify(data)}`);
    }
  };
  const events = client.iterate<{ credentialInvalidated: Invalidation }>({
    query: `subscription ($after: ID) {
      credentialInvalidated(after: $after) {
        id type reason { code message }
        dependentConnectors { id name status }
      }
    }`,
    variables: { after: state.lastEventId },
  });
  const done = (async () => {
    for await (const result of events) {
      if (result.errors?.length) break;
      const event = result.data?.credentialInvalidated;
      if (!event) continue;
      for (const connector of event.dependentConnectors) {
        if (connector.status !== "PAUSED") await pause(connector.id);
      }
      state.lastEventId = event.id;
    }
  })();
  return {
    async stop() {
      await events.return?.();
      client.dispose();
      await done.catch(() => {});
    },
  };
}

it("pauses the connectors of invalidated credentials, and catches up after being offline", async () => {
  const key = await createKey(app, ["credentials:read", "connectors:read", "connectors:write"]);
  const env = await environmentIds(app);
  const setup = async (name: string) => {
    const credential = await createCredential(app, {
      name,
      environmentId: env.development,
      bearer: { token: `${name}-token-value` },
    });
    const connector = dataOf(
      await app.execute(CreateConnectorIdOnlyMutation, {
        input: {
          name: `${name}-sync`,
          appKey: "github",
          environmentId: env.development,
          credentialId: credential.id,
        },
      }),
    ).createConnector;
    if (connector.__typename !== "CreateConnectorSuccess")
      throw new Error(JSON.stringify(connector));
    return { credentialId: credential.id, connectorId: connector.connectorId };
  };
  const invalidate = async (credentialGlobalId: string) => {
    const credentialId = Buffer.from(credentialGlobalId, "base64").toString().split(":")[1] ?? "";
    const [row] = await app.database.query<{ workspaceId: string }>(
      `SELECT "workspaceId" FROM "Credential" WHERE "id" = $1`,
      [credentialId],
    );
    await withCredentialEvents(serviceDepsOf(app.keyport.services), (_tx, record) =>
      record({
        workspaceId: row?.workspaceId ?? "",
        credentialId,
        type: "INVALIDATED",
        status: "INVALID",
        reason: { code: "INVALID_CREDENTIALS", message: "The provider refused the token." },
      }),
    );
  };
  const statusOf = async (connectorId: string) =>
    dataOf(await app.execute(ConnectorQuery, { id: connectorId })).connector?.status;

  const first = await setup("first");
  const second = await setup("second");
  const state = { lastEventId: null as string | null };

  let service = connectorService(origin, key, state);
  await new Promise((resolve) => setTimeout(resolve, 500));
  await invalidate(first.credentialId);
  // The subscriber remembers the event only after its pause mutation answers, which can be after
  // the pause is visible here: wait for both.
  await eventually(
    async () => (await statusOf(first.connectorId)) === "PAUSED" && state.lastEventId !== null,
    10_000,
    "pause handled",
  );
  expect(state.lastEventId).not.toBeNull();
  await service.stop();

  // Offline: the second credential is invalidated meanwhile.
  await invalidate(second.credentialId);
  expect(await statusOf(second.connectorId)).toBe("ACTIVE");

  service = connectorService(origin, key, state);
  await eventually(
    async () => (await statusOf(second.connectorId)) === "PAUSED",
    10_000,
    "catch-up",
  );
  await service.stop();
});
