import type { AddressInfo } from "node:net";
import { createClient as createWsClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startTestApp, type TestApp } from "../helpers/app.js";

const viewerQuery = "{ viewer { scopes workspace { slug } } }";

describe("HTTP surface", () => {
  let app: TestApp;
  let baseUrl: string;
  let server: ReturnType<TestApp["keyport"]["createHttpServer"]>;
  beforeAll(async () => {
    app = await startTestApp();
    server = app.keyport.createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
  });

  it("reports health and readiness", async () => {
    const health = await fetch(`${baseUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${baseUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: "ready",
      checks: { database: "ok", encryption: "ok" },
    });
  });

  it("serves GraphiQL outside production", async () => {
    const page = await fetch(`${baseUrl}/graphql`, { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("graphiql");
  });

  it("answers queries over WebSocket (graphql-ws) with the key in connection params", async () => {
    const client = createWsClient({
      url: `${baseUrl.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${app.adminKey}` },
      retryAttempts: 0,
    });
    try {
      const result = await new Promise((resolve, reject) => {
        let value: unknown;
        client.subscribe(
          { query: viewerQuery },
          { next: (data) => (value = data), error: reject, complete: () => resolve(value) },
        );
      });
      expect(result).toEqual({
        data: { viewer: { scopes: ["admin", "platform"], workspace: { slug: "default" } } },
      });
    } finally {
      await client.dispose();
    }
  });

  it("closes a WebSocket whose connection_init carries no key (4403 Forbidden)", async () => {
    const client = createWsClient({
      url: `${baseUrl.replace("http", "ws")}/graphql`,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
    });
    try {
      const closeCode = await new Promise<unknown>((resolve) => {
        client.subscribe(
          { query: viewerQuery },
          {
            next: () => resolve("answered"),
            error: (error) => resolve((error as { code?: number }).code),
            complete: () => resolve("completed"),
          },
        );
      });
      expect(closeCode).toBe(4403);
    } finally {
      await client.dispose();
    }
  });

  it("answers operations over server-sent events", async () => {
    const response = await fetch(`${baseUrl}/graphql`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        accept: "text/event-stream",
        authorization: `Bearer ${app.adminKey}`,
      },
      body: JSON.stringify({ query: viewerQuery }),
    });
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const events = (await response.text()).split("\n\n").filter(Boolean);
    const next = events.find((event) => event.startsWith("event: next"));
    expect(JSON.parse(next?.split("data: ")[1] ?? "null")).toEqual({
      data: { viewer: { scopes: ["admin", "platform"], workspace: { slug: "default" } } },
    });
    expect(events.at(-1)).toMatch(/^event: complete/);
  });

  it("refuses GET requests without the CSRF header and mutations over GET", async () => {
    const query = encodeURIComponent(viewerQuery);
    const auth = { authorization: `Bearer ${app.adminKey}` };
    const noHeader = await fetch(`${baseUrl}/graphql?query=${query}`, { headers: auth });
    expect(noHeader.status).toBe(403);
    const withHeader = await fetch(`${baseUrl}/graphql?query=${query}`, {
      headers: { ...auth, "x-graphql-yoga-csrf": "1", accept: "application/json" },
    });
    expect(withHeader.status).toBe(200);
    const mutation = encodeURIComponent(
      'mutation { createEnvironment(input: { slug: "viaget", name: "x" }) { __typename } }',
    );
    const viaGet = await fetch(`${baseUrl}/graphql?query=${mutation}`, {
      headers: { ...auth, "x-graphql-yoga-csrf": "1", accept: "application/json" },
    });
    expect(viaGet.status).toBe(405);
    expect(await app.database.prisma.environment.count({ where: { slug: "viaget" } })).toBe(0);
  });

  it("rejects abusive queries: too many aliases or tokens", async () => {
    const post = (query: string) =>
      fetch(`${baseUrl}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
        body: JSON.stringify({ query }),
      }).then((r) => r.json() as Promise<{ data?: unknown; errors?: { message: string }[] }>);
    const aliases = Array.from({ length: 50 }, (_, i) => `a${i}: viewer { scopes }`).join(" ");
    const aliased = await post(`{ ${aliases} }`);
    expect(aliased.data).toBeUndefined();
    expect(aliased.errors?.[0]?.message).toMatch(/aliases/i);
    const tokens = await post(`{ viewer { ${"scopes ".repeat(4000)} } }`);
    expect(tokens.data).toBeUndefined();
    expect(tokens.errors?.[0]?.message).toMatch(/token/i);
    expect((await post(`{ ${aliases.split(" a1")[0]} }`)).errors).toBeUndefined();
  });
});

describe("production mode", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ env: { NODE_ENV: "production" } });
  });
  afterAll(() => app.close());

  const post = (query: string) =>
    app
      .request("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
        body: JSON.stringify({ query }),
      })
      .then((r) => r.json() as Promise<{ data?: unknown; errors?: { message: string }[] }>);

  it("turns off GraphiQL, introspection and field suggestions", async () => {
    const page = await app.request("/graphql", { headers: { accept: "text/html" } });
    expect(await page.text()).not.toContain("graphiql");
    const introspection = await post("{ __schema { types { name } } }");
    expect(introspection.data).toBeUndefined();
    expect(JSON.stringify(introspection.errors)).toMatch(/introspection/i);
    const typo = await post("{ viewr { scopes } }");
    expect(JSON.stringify(typo.errors)).not.toMatch(/Did you mean/);
  });

  it("still suggests fields outside production", async () => {
    const dev = await startTestApp();
    try {
      const response = await dev.request("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${dev.adminKey}` },
        body: JSON.stringify({ query: "{ viewr { scopes } }" }),
      });
      expect(JSON.stringify(await response.json())).toMatch(/Did you mean/);
    } finally {
      await dev.close();
    }
  });
});

describe("with Redis configured", () => {
  it("reports Redis in readiness and keeps serving queries while Redis is unreachable", async () => {
    // Nothing listens on port 9: Redis is "down".
    const app = await startTestApp({ env: { REDIS_URL: "redis://127.0.0.1:9" } });
    try {
      const ready = await app.request("/readyz");
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: "unavailable",
        checks: { database: "ok", encryption: "ok", redis: "unavailable" },
      });
      const response = await app.request("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
        body: JSON.stringify({ query: viewerQuery }),
      });
      expect(await response.json()).toEqual({
        data: { viewer: { scopes: ["admin", "platform"], workspace: { slug: "default" } } },
      });
    } finally {
      await app.close();
    }
  });

  it("is ready when the configured Redis answers", async () => {
    const redisUrl = process.env.REDIS_URL;
    // Only CI's service run provides a Redis; without one, the test above covers the down case.
    if (!redisUrl) return;
    const app = await startTestApp({ env: { REDIS_URL: redisUrl } });
    try {
      await expect
        .poll(async () => (await app.request("/readyz")).status, { timeout: 5_000 })
        .toBe(200);
    } finally {
      await app.close();
    }
  });
});
