// Subscriptions on one listening instance, driven with the graphql-sse client (single connection
// mode on /graphql/stream, distinct connections on /graphql/stream and on yoga's /graphql) and the
// graphql-ws client: delivery with dependent connectors, authentication and scopes, filters,
// resume with `after`, revocation and token expiry mid-stream, and a subscriber that stops reading.
import type { Server } from "node:http";
import net from "node:net";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { serviceDepsOf } from "../../src/context.js";
import { withCredentialEvents } from "../../src/modules/credentials/history.js";
import { callerWatchOf } from "../../src/modules/subscriptions/caller-watch.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { CreateConnectorIdOnlyMutation } from "../helpers/connector-documents.js";
import { DeleteCredentialMutation } from "../helpers/credential-documents.js";
import { createCredential, createKey, environmentIds } from "../helpers/credentials.js";
import { RevokeApiKeyMutation, ViewerQuery } from "../helpers/documents.js";
import { eventually, subscribe, type Transport, transports } from "../helpers/subscribers.js";
import {
  ConnectorCredentialStatusSubscription,
  CredentialEventIdsSubscription,
  CredentialEventsSubscription,
  CredentialInvalidatedSubscription,
} from "../helpers/subscription-documents.js";

let app: TestApp;
let server: Server;
let origin: string;
let env: Record<string, string>;
let workspaceId: string;

/** Subscriptions started on the server so far. */
const startedCount = () => callerWatchOf(app.keyport.services).started;
/** Subscriptions running on the server now. */
const running = () => callerWatchOf(app.keyport.services).size;

/** Waits until `count` more subscriptions have started on the server. */
async function started(before: number, count = 1) {
  await eventually(() => startedCount() >= before + count, 10_000, "the subscription to start");
}

beforeAll(async () => {
  app = await startTestApp({
    env: { SUBSCRIPTION_RECHECK_INTERVAL: "500ms", SUBSCRIPTION_BUFFER: "20" },
  });
  server = app.keyport.createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  origin = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  env = await environmentIds(app);
  const [row] = await app.database.query<{ id: string }>(`SELECT "id" FROM "Workspace" LIMIT 1`);
  workspaceId = row?.id ?? "";
});

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await app?.close();
});

let counter = 0;
async function credentialWithConnector(environment = "development") {
  counter++;
  const credential = await createCredential(app, {
    name: `sub-${counter}`,
    environmentId: env[environment],
    bearer: { token: `token-for-subscriptions-${counter}` },
  });
  const connector = dataOf(
    await app.execute(CreateConnectorIdOnlyMutation, {
      input: {
        name: `connector-${counter}`,
        appKey: "github",
        environmentId: env[environment],
        credentialId: credential.id,
      },
    }),
  ).createConnector;
  if (connector.__typename !== "CreateConnectorSuccess") throw new Error(JSON.stringify(connector));
  return { credentialId: credential.id, connectorId: connector.connectorId };
}

const rawId = (globalId: string) => Buffer.from(globalId, "base64").toString().split(":")[1] ?? "";

/** Records committed events for a credential through the same path as every change. */
async function recordEvents(credentialGlobalId: string, count: number, type = "VERIFIED") {
  const credentialId = rawId(credentialGlobalId);
  const [row] = await app.database.query<{ environmentId: string }>(
    `SELECT "environmentId" FROM "Credential" WHERE "id" = $1`,
    [credentialId],
  );
  const records = [];
  for (let i = 0; i < count; i++) {
    records.push(
      await withCredentialEvents(serviceDepsOf(app.keyport.services), (_tx, record) =>
        record({
          workspaceId,
          credentialId,
          environmentId: row?.environmentId ?? "",
          dependents: [],
          type: type as "VERIFIED",
          status: "ACTIVE",
        }),
      ),
    );
  }
  return records;
}

describe.each(transports)("over %s", (transport: Transport) => {
  it("delivers a committed deletion with its dependent connectors", async () => {
    const { credentialId, connectorId } = await credentialWithConnector();
    const before = startedCount();
    const sub = subscribe(transport, origin, app.adminKey, CredentialEventsSubscription, {
      filter: { credentialIds: [credentialId] },
    });
    await started(before);
    const deleted = dataOf(
      await app.execute(DeleteCredentialMutation, { input: { id: credentialId, force: true } }),
    ).deleteCredential;
    expect(deleted.__typename).toBe("DeleteCredentialSuccess");
    await sub.waitFor(1);
    const event = sub.data[0]?.credentialEvents;
    expect(event?.type).toBe("DELETED");
    expect(event?.credential).toBeNull();
    // The connector still exists (detached), so it is listed.
    expect(event?.dependentConnectors.map((c) => c.id)).toEqual([connectorId]);
    await sub.dispose();
  });

  it("resumes after a missed stretch: exactly the missed events, in order, then live ones", async () => {
    const { credentialId } = await credentialWithConnector();
    const filter = { credentialIds: [credentialId] };
    let before = startedCount();
    const first = subscribe(transport, origin, app.adminKey, CredentialEventIdsSubscription, {
      filter,
    });
    await started(before);
    const [seen] = await recordEvents(credentialId, 1);
    await first.waitFor(1);
    expect(first.data[0]?.credentialEvents.id).toBe(seen?.id);
    await first.dispose();

    const missed = await recordEvents(credentialId, 100);
    before = startedCount();
    const resumed = subscribe(transport, origin, app.adminKey, CredentialEventIdsSubscription, {
      filter: { ...filter, after: seen?.id },
    });
    await started(before);
    // Events committed while the replay runs are neither lost nor repeated.
    const live = await recordEvents(credentialId, 5);
    await resumed.waitFor(105).catch((error) => {
      throw new Error(`${error.message}: ${JSON.stringify(resumed.results.slice(0, 2))}`);
    });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const ids = resumed.data.map((d) => d.credentialEvents.id);
    expect(ids).toEqual([...missed, ...live].map((e) => e.id));
    await resumed.dispose();
  });

  it("ends the stream within the re-check interval once its API key is revoked", async () => {
    const key = await createKey(app, ["credentials:read"]);
    const viewer = dataOf(await app.execute(ViewerQuery, undefined, { key }));
    expect(viewer.viewer.scopes).toEqual(["credentials:read"]);
    const [keyRow] = await app.database.query<{ id: string }>(
      `SELECT "id" FROM "ApiKey" WHERE "revokedAt" IS NULL ORDER BY "createdAt" DESC LIMIT 1`,
    );
    const before = startedCount();
    const sub = subscribe(transport, origin, key, CredentialEventIdsSubscription, {});
    await started(before);
    const revokedAt = Date.now();
    const apiKeyId = Buffer.from(`ApiKey:${keyRow?.id}`).toString("base64");
    const revoked = dataOf(await app.execute(RevokeApiKeyMutation, { input: { id: apiKeyId } }));
    expect(revoked.revokeApiKey.__typename).toBe("RevokeApiKeySuccess");
    await sub.waitFor(1, 10_000);
    expect(sub.results[0]?.errors?.[0]?.extensions).toMatchObject({
      code: "SUBSCRIPTION_ENDED",
      reason: "CREDENTIALS_REVOKED",
    });
    await eventually(() => sub.isEnded(), 5_000, "the stream to complete");
    expect(Date.now() - revokedAt).toBeLessThan(5_000);
    await sub.dispose();
  });

  it("ends the stream once its JWT expires", async () => {
    const token = await new SignJWT({ workspace: "default", scope: "credentials:read" })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("connector-service")
      .setIssuer("https://issuer.keyport.test")
      .setAudience("keyport")
      .setExpirationTime(Math.floor(Date.now() / 1000) + 2)
      .sign(new TextEncoder().encode("test-jwt-secret-that-is-long-enough-0123456789"));
    const before = startedCount();
    const sub = subscribe(transport, origin, token, CredentialEventIdsSubscription, {});
    await started(before);
    await sub.waitFor(1, 10_000);
    expect(sub.results[0]?.errors?.[0]?.extensions).toMatchObject({
      reason: "CREDENTIALS_EXPIRED",
    });
    await sub.dispose();
  });
});

describe("authentication and scopes", () => {
  it("refuses a connection without a valid key on every transport", async () => {
    for (const transport of transports) {
      const sub = subscribe(transport, origin, "kp_not-a-key", CredentialEventIdsSubscription, {});
      const outcome = await Promise.race([
        sub.ended,
        sub.waitFor(1, 10_000).then(() => sub.results[0]),
      ]);
      const text =
        JSON.stringify(outcome ?? null) +
        String((outcome as Error)?.message ?? "") +
        String((outcome as { code?: number })?.code ?? "");
      // graphql-ws closes with 4403, graphql-sse answers 401, yoga's SSE an UNAUTHENTICATED error.
      expect(text, transport).toMatch(/4403|401|UNAUTHENTICATED|Unauthorized|Forbidden/i);
      expect(sub.data).toEqual([]);
      await sub.dispose();
    }
  });

  it("takes the key from the WebSocket upgrade request's Authorization header too", async () => {
    const { createClient } = await import("graphql-ws");
    const { default: WebSocket } = await import("ws");
    const key = app.adminKey;
    class WithHeader extends WebSocket {
      constructor(url: string, protocols?: string | string[]) {
        super(url, protocols, { headers: { authorization: `Bearer ${key}` } });
      }
    }
    const client = createClient({
      url: `${origin.replace("http", "ws")}/graphql`,
      webSocketImpl: WithHeader,
      retryAttempts: 0,
    });
    const result = await new Promise<unknown>((resolve, reject) => {
      client.subscribe(
        { query: "{ viewer { scopes } }" },
        { next: resolve, error: reject, complete: () => {} },
      );
    });
    expect(result).toMatchObject({ data: { viewer: { scopes: expect.any(Array) } } });
    await client.dispose();
  });

  it("needs credentials:read for credentialEvents and credentialInvalidated", async () => {
    const key = await createKey(app, ["connectors:read"]);
    for (const transport of transports) {
      const sub = subscribe(transport, origin, key, CredentialInvalidatedSubscription, {});
      await sub.waitFor(1);
      expect(sub.results[0]?.errors?.[0]?.extensions?.code, transport).toBe("FORBIDDEN");
      await sub.dispose();
    }
  });

  it("needs connectors:read (and credentials:read) for connectorCredentialStatus", async () => {
    const { connectorId } = await credentialWithConnector();
    const key = await createKey(app, ["credentials:read"]);
    const sub = subscribe("ws", origin, key, ConnectorCredentialStatusSubscription, {
      connectorId,
    });
    await sub.waitFor(1);
    expect(sub.results[0]?.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    await sub.dispose();
  });

  it("treats another workspace's connector like one that does not exist", async () => {
    const sub = subscribe("ws", origin, app.adminKey, ConnectorCredentialStatusSubscription, {
      connectorId: Buffer.from("Connector:00000000-0000-7000-8000-000000000000").toString("base64"),
    });
    await sub.waitFor(1);
    expect(sub.results[0]?.errors?.[0]?.message).toMatch(/no such connector/);
    await sub.dispose();
  });
});

describe("filters", () => {
  it("credentialInvalidated sends only what leaves a credential unusable, in its environment", async () => {
    const dev = await credentialWithConnector("development");
    const prod = await credentialWithConnector("production");
    const before = startedCount();
    const sub = subscribe("ws", origin, app.adminKey, CredentialInvalidatedSubscription, {
      environmentId: env.development,
    });
    await started(before);
    await recordEvents(dev.credentialId, 2, "VERIFIED");
    await recordEvents(prod.credentialId, 1, "INVALIDATED");
    const [invalidated] = await recordEvents(dev.credentialId, 1, "INVALIDATED");
    await sub.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sub.data.map((d) => d.credentialInvalidated.id)).toEqual([invalidated?.id]);
    expect(sub.data[0]?.credentialInvalidated.dependentConnectors).toEqual([]);
    await sub.dispose();
  });

  it("connectorCredentialStatus follows the connector's credential; a limited key sees only its environment", async () => {
    const dev = await credentialWithConnector("development");
    const prod = await credentialWithConnector("production");
    const before = startedCount();
    const sub = subscribe(
      "sse-single",
      origin,
      app.adminKey,
      ConnectorCredentialStatusSubscription,
      {
        connectorId: dev.connectorId,
      },
    );
    await started(before);
    await recordEvents(prod.credentialId, 1);
    const deleted = dataOf(
      await app.execute(DeleteCredentialMutation, { input: { id: dev.credentialId, force: true } }),
    ).deleteCredential;
    expect(deleted.__typename).toBe("DeleteCredentialSuccess");
    await sub.waitFor(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(sub.data.map((d) => d.connectorCredentialStatus.type)).toEqual(["DELETED"]);
    await sub.dispose();
  });
});

describe("a subscriber that stops reading", () => {
  const bigEvents = (count: number) => {
    const name = "n".repeat(200);
    const dependents = Array.from({ length: 15 }, (_, i) => ({ id: `dep-${i}`, name }));
    return Array.from({ length: count }, (_, i) => ({
      id: `ce_${String(10_000_000 + i).padStart(19, "0")}`,
      sequence: String(10_000_000 + i),
      workspaceId,
      environmentId: env.development ? rawId(env.development) : "",
      credentialId: "synthetic",
      type: "VERIFIED",
      status: "ACTIVE",
      reason: null,
      attempt: null,
      dependents,
      occurredAt: new Date().toISOString(),
    }));
  };

  /** A raw HTTP request for an event stream whose response is never read. */
  function stalledStream(path: string) {
    const socket = net.connect(Number(new URL(origin).port), "127.0.0.1");
    socket.setNoDelay(true);
    const body = JSON.stringify({
      query: "subscription { credentialEvents { id dependents { id name } } }",
    });
    socket.write(
      `POST ${path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n` +
        `accept: text/event-stream\r\nauthorization: Bearer ${app.adminKey}\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    // Reads the headers, then nothing until told to.
    let received = "";
    socket.on("data", (chunk) => {
      received += String(chunk);
    });
    socket.once("data", () => socket.pause());
    const closed = new Promise<void>((resolve) => socket.on("close", () => resolve()));
    socket.on("error", () => {});
    return { socket, closed, received: () => received };
  }

  it.each(["/graphql", "/graphql/stream"])(
    "over SSE on %s: closed once its buffer fills; memory stays bounded",
    async (path) => {
      const before = startedCount();
      const runningBefore = running();
      const stalled = stalledStream(path);
      await started(before);
      const heapBefore = process.memoryUsage().heapUsed;
      const { publishCredentialEvents } = await import(
        "../../src/modules/events/events.service.js"
      );
      // About 3 KB each: 60 MB in total, far more than any socket buffer holds.
      const events = bigEvents(20_000);
      for (let i = 0; i < events.length; i += 500) {
        publishCredentialEvents(app.keyport.services, events.slice(i, i + 500));
        await new Promise((resolve) => setImmediate(resolve));
      }
      await eventually(() => running() <= runningBefore, 20_000, "the stream to end");
      // Whatever the server still holds for this client is bounded: far less than was sent.
      const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
      expect(heapGrowth).toBeLessThan(40 * 1024 * 1024);
      // Reading again: the stream ends with its reason (yoga's SSE), or the connection was dropped
      // (the graphql-sse handler, which cannot add a message behind the ones it queued).
      stalled.socket.resume();
      await Promise.race([stalled.closed, new Promise((resolve) => setTimeout(resolve, 5_000))]);
      const text = stalled.received();
      if (!stalled.socket.destroyed) expect(text).toContain("SLOW_CONSUMER");
      expect(text.length).toBeLessThan(20_000 * 3_000);
      stalled.socket.destroy();
    },
    60_000,
  );

  it("over WebSocket: closed once its buffer fills", async () => {
    const { publishCredentialEvents } = await import("../../src/modules/events/events.service.js");
    // The graphql-transport-ws protocol by hand, on a socket that stops reading.
    const { default: WebSocket } = await import("ws");
    const ws = new WebSocket(`${origin.replace("http", "ws")}/graphql`, "graphql-transport-ws");
    await new Promise((resolve) => ws.once("open", resolve));
    ws.send(
      JSON.stringify({
        type: "connection_init",
        payload: { authorization: `Bearer ${app.adminKey}` },
      }),
    );
    await new Promise((resolve) => ws.once("message", resolve));
    const watchBefore = startedCount();
    const runningBefore = running();
    ws.send(
      JSON.stringify({
        id: "1",
        type: "subscribe",
        payload: { query: "subscription { credentialEvents { id dependents { id name } } }" },
      }),
    );
    await started(watchBefore);
    const raw = (ws as unknown as { _socket: net.Socket })._socket;
    raw.pause();
    let closed = false;
    let reason = "";
    ws.on("close", () => {
      closed = true;
    });
    ws.on("message", (data) => {
      const text = String(data);
      if (text.includes("SUBSCRIPTION_ENDED")) reason = text;
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const events = bigEvents(20_000);
    for (let i = 0; i < events.length; i += 500) {
      publishCredentialEvents(app.keyport.services, events.slice(i, i + 500));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await eventually(() => running() <= runningBefore, 20_000, "the stream to end");
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(40 * 1024 * 1024);
    // Reading again: the reason arrives last, or the connection was closed.
    raw.resume();
    await eventually(() => closed || reason !== "", 15_000, "the reason or the close");
    if (!closed) expect(reason).toContain("SLOW_CONSUMER");
    ws.terminate();
  }, 60_000);
});
