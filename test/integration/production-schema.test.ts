// Production hides the schema on every transport: no introspection and no "Did you mean …?"
// hints over HTTP, server-sent events (POST and GET) and WebSocket (graphql-ws), and a WebSocket
// without a valid key in connection_init is closed (4403) before it can run anything.
import type { AddressInfo } from "node:net";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { CreateApiKeyMutation } from "../helpers/documents.js";

type Result = { data?: unknown; errors?: { message: string }[] };
type Transport = "HTTP" | "SSE POST" | "SSE GET" | "WebSocket";
type Operation = { query: string; variables?: Record<string, unknown> };

// Each typo, and the correct name a suggestion would reveal.
const typos: { name: string; operation: Operation; hidden: string }[] = [
  { name: "a typo'd field", operation: { query: "{ viewer { scopess } }" }, hidden: "scopes" },
  {
    name: "a typo'd argument",
    operation: { query: "{ credentials(frist: 1) { edges { cursor } } }" },
    hidden: "first",
  },
  {
    name: "a typo'd enum value inline",
    operation: { query: "{ credentials(filter: { kind: BASIK }) { edges { cursor } } }" },
    hidden: "BASIC",
  },
  {
    name: "a typo'd enum value in a variable",
    operation: {
      query:
        "query Q($kind: CredentialKind) { credentials(filter: { kind: $kind }) { edges { cursor } } }",
      variables: { kind: "BASIK" },
    },
    hidden: "BASIC",
  },
  {
    name: "a typo'd input field inline",
    operation: { query: "{ credentials(filter: { kindd: BASIC }) { edges { cursor } } }" },
    hidden: "kind",
  },
  {
    name: "a typo'd input field in a variable",
    operation: {
      query:
        "query Q($filter: CredentialFilter) { credentials(filter: $filter) { edges { cursor } } }",
      variables: { filter: { searh: "x" } },
    },
    hidden: "search",
  },
  {
    name: "a typo'd type name",
    operation: { query: "query Q($f: CredentialFiltr) { viewer { scopes } }" },
    hidden: "CredentialFilter",
  },
];

const introspections: Operation[] = [
  { query: "{ __schema { types { name } } }" },
  { query: '{ __type(name: "Secret") { name fields { name } } }' },
];

function startServer(app: TestApp) {
  const server = app.keyport.createHttpServer();
  return new Promise<{ server: typeof server; baseUrl: string }>((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({ server, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }),
    ),
  );
}

/** Runs one operation over a graphql-ws connection; resolves its result or the close code. */
function overWebSocket(
  baseUrl: string,
  authorization: string | undefined,
  operation: Operation,
): Promise<{ result?: Result; closeCode?: number }> {
  const client = createClient({
    url: `${baseUrl.replace("http", "ws")}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: authorization === undefined ? {} : { authorization },
    retryAttempts: 0,
    lazy: true,
  });
  return new Promise<{ result?: Result; closeCode?: number }>((resolve) => {
    let result: Result | undefined;
    client.subscribe(operation, {
      next: (value) => {
        result = value as Result;
      },
      error: (error) => {
        const code = (error as { code?: number }).code;
        if (typeof code === "number") resolve({ closeCode: code });
        else if (Array.isArray(error)) resolve({ result: { errors: error } });
        else resolve({ result: { errors: [{ message: String(error) }] } });
      },
      complete: () => resolve({ result }),
    });
  }).finally(() => client.dispose());
}

async function overSse(baseUrl: string, key: string, operation: Operation, method: "POST" | "GET") {
  const headers = { accept: "text/event-stream", authorization: `Bearer ${key}` };
  const response =
    method === "POST"
      ? await fetch(`${baseUrl}/graphql`, {
          method,
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify(operation),
        })
      : await fetch(
          `${baseUrl}/graphql?query=${encodeURIComponent(operation.query)}${
            operation.variables
              ? `&variables=${encodeURIComponent(JSON.stringify(operation.variables))}`
              : ""
          }`,
          { headers: { ...headers, "x-graphql-yoga-csrf": "1" } },
        );
  expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const events = (await response.text()).split("\n\n").filter(Boolean);
  const next = events.find((event) => event.startsWith("event: next"));
  return JSON.parse(next?.split("data: ")[1] ?? "{}") as Result;
}

describe("production hides the schema on every transport", () => {
  let app: TestApp;
  let baseUrl: string;
  let server: Awaited<ReturnType<typeof startServer>>["server"];
  beforeAll(async () => {
    app = await startTestApp({ env: { NODE_ENV: "production" } });
    ({ server, baseUrl } = await startServer(app));
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
  });

  async function run(transport: Transport, operation: Operation): Promise<Result> {
    switch (transport) {
      case "HTTP": {
        const response = await fetch(`${baseUrl}/graphql`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
          body: JSON.stringify(operation),
        });
        return (await response.json()) as Result;
      }
      case "SSE POST":
        return overSse(baseUrl, app.adminKey, operation, "POST");
      case "SSE GET":
        return overSse(baseUrl, app.adminKey, operation, "GET");
      case "WebSocket": {
        const { result, closeCode } = await overWebSocket(
          baseUrl,
          `Bearer ${app.adminKey}`,
          operation,
        );
        expect(closeCode).toBeUndefined();
        return result ?? {};
      }
    }
  }

  const transports: Transport[] = ["HTTP", "SSE POST", "SSE GET", "WebSocket"];
  for (const transport of transports) {
    it(`${transport}: answers a normal query`, async () => {
      expect(await run(transport, { query: "{ viewer { scopes } }" })).toEqual({
        data: { viewer: { scopes: ["admin", "platform"] } },
      });
    });

    it(`${transport}: refuses introspection`, async () => {
      for (const operation of introspections) {
        const result = await run(transport, operation);
        expect(result.data ?? null).toBeNull();
        expect(JSON.stringify(result.errors)).toMatch(/introspection/i);
        expect(JSON.stringify(result)).not.toMatch(/"Secret"|"CredentialBase"|"fields"/);
      }
    });

    for (const typo of typos) {
      it(`${transport}: gives no suggestion for ${typo.name}`, async () => {
        const result = await run(transport, typo.operation);
        expect(result.errors?.length).toBeGreaterThan(0);
        const text = JSON.stringify(result);
        expect(text).not.toMatch(/Did you mean/i);
        expect(text).not.toContain(`\\"${typo.hidden}\\"`);
      });
    }
  }
});

describe("WebSocket connections", () => {
  for (const production of [false, true]) {
    describe(production ? "in production" : "outside production", () => {
      let app: TestApp;
      let baseUrl: string;
      let server: Awaited<ReturnType<typeof startServer>>["server"];
      beforeAll(async () => {
        app = await startTestApp({ env: production ? { NODE_ENV: "production" } : {} });
        ({ server, baseUrl } = await startServer(app));
      });
      afterAll(async () => {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
        await app.close();
      });

      const refused: [string, string | undefined][] = [
        ["no authorization", undefined],
        ["an unknown API key", "Bearer kp_notarealkeynotarealkeynotarealkeynotarealk"],
        ["a malformed authorization", "Basic dXNlcjpwYXNz"],
        ["a bad JWT", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"],
      ];
      for (const [name, authorization] of refused) {
        for (const operation of [{ query: "{ viewer { scopes } }" }, ...introspections]) {
          it(`closes a connection_init with ${name} (4403) before ${operation.query.slice(0, 12)}… runs`, async () => {
            const outcome = await overWebSocket(baseUrl, authorization, operation);
            expect(outcome).toEqual({ closeCode: 4403 });
          });
        }
      }

      it("accepts a connection_init with a valid key", async () => {
        const outcome = await overWebSocket(baseUrl, `Bearer ${app.adminKey}`, {
          query: "{ viewer { scopes } }",
        });
        expect(outcome).toEqual({
          result: { data: { viewer: { scopes: ["admin", "platform"] } } },
        });
      });

      it("refuses a key revoked before the connection", async () => {
        const payload = dataOf(
          await app.execute(CreateApiKeyMutation, {
            input: { name: "short-lived", scopes: ["credentials:read"] },
          }),
        ).createApiKey;
        if (payload.__typename !== "CreateApiKeySuccess") throw new Error("createApiKey failed");
        await app.database.prisma.apiKey.updateMany({
          where: { prefix: payload.apiKey.prefix },
          data: { revokedAt: new Date() },
        });
        const outcome = await overWebSocket(baseUrl, `Bearer ${payload.key}`, {
          query: "{ viewer { scopes } }",
        });
        expect(outcome).toEqual({ closeCode: 4403 });
      });
    });
  }
});
