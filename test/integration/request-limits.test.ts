// Finding: one 24 MB body of nested arrays blocked the event loop for seconds and 16 of them
// took hundreds of MB, without credentials. Bodies are now limited before parsing: MAX_REQUEST_BYTES
// (declared or streamed), 16 KiB without valid credentials, and a nesting depth.
import { request as httpRequest, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestApp, type TestApp } from "../helpers/app.js";

type Raw = { status: number; body: string };

/** A request over a real socket; with `chunks` the body is streamed without Content-Length. */
function raw(
  port: number,
  options: { headers?: Record<string, string>; body?: string; chunks?: Iterable<string> },
): Promise<Raw> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const request = httpRequest(
      { host: "127.0.0.1", port, path: "/graphql", method: "POST", headers: options.headers },
      (response) => {
        answered = true;
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          body += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
        response.on("error", () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    // Writing the rest of a refused body fails once the server closes: that is expected.
    request.on("error", (error) => (answered ? undefined : reject(error)));
    if (options.chunks) {
      const iterator = options.chunks[Symbol.iterator]();
      const writeNext = () => {
        for (;;) {
          const next = iterator.next();
          if (next.done || answered || request.destroyed) return request.end();
          if (!request.write(next.value)) return request.once("drain", writeNext);
        }
      };
      writeNext();
    } else {
      request.end(options.body);
    }
  });
}

const nestedArrays = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

describe("request limits", () => {
  let app: TestApp;
  let server: Server;
  let port: number;
  const json = { "content-type": "application/json" };
  const viewer = JSON.stringify({ query: "{ viewer { scopes } }" });

  beforeAll(async () => {
    app = await startTestApp();
    server = app.keyport.createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await app.close();
  });

  it("refuses a 24 MB body with 413 while answering normal requests", async () => {
    const big = `{"query":"{ viewer { scopes } }","variables":{"x":${nestedArrays(12 * 1024 * 1024)}}}`;
    const auth = { ...json, authorization: `Bearer ${app.adminKey}` };
    const declared = raw(port, {
      headers: { ...auth, "content-length": String(Buffer.byteLength(big)) },
      body: big,
    });
    // The same body streamed in 64 KiB chunks, without Content-Length.
    const streamed = raw(port, {
      headers: { ...auth, "transfer-encoding": "chunked" },
      chunks: (function* () {
        for (let offset = 0; offset < big.length; offset += 65_536) {
          yield big.slice(offset, offset + 65_536);
        }
      })(),
    });
    const normal = raw(port, { headers: auth, body: viewer });
    const [declaredResult, streamedResult, normalResult] = await Promise.all([
      declared,
      streamed,
      normal,
    ]);
    expect(declaredResult.status).toBe(413);
    expect(streamedResult.status).toBe(413);
    expect(JSON.parse(declaredResult.body).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
    expect(normalResult.status).toBe(200);
    expect(JSON.parse(normalResult.body).data.viewer.scopes).toContain("admin");

    // Through yoga.fetch too.
    const fetched = await app.request("/graphql", { method: "POST", headers: auth, body: big });
    expect(fetched.status).toBe(413);
  });

  it("refuses bodies above 16 KiB without valid credentials, before parsing", async () => {
    const padding = "x".repeat(20 * 1024);
    const body = JSON.stringify({ query: "{ viewer { scopes } }", variables: { padding } });
    for (const headers of [
      json,
      { ...json, authorization: "Bearer kp_not_a_real_key_000000000000" },
      { ...json, authorization: "Basic dXNlcjpwdw==" },
    ]) {
      const declared = await raw(port, { headers, body });
      expect(declared.status).toBe(413);
      expect(declared.body).toContain("without valid credentials");
      const streamed = await raw(port, {
        headers: { ...headers, "transfer-encoding": "chunked" },
        chunks: [body.slice(0, 10_000), body.slice(10_000)],
      });
      expect(streamed.status).toBe(413);
    }
    // The same body with a valid key is served.
    const allowed = await raw(port, {
      headers: { ...json, authorization: `Bearer ${app.adminKey}` },
      body,
    });
    expect(allowed.status).toBe(200);
    // Small unauthenticated requests still get the usual GraphQL answer.
    const small = await raw(port, { headers: json, body: viewer });
    expect(JSON.parse(small.body).errors[0].extensions.code).toBe("UNAUTHENTICATED");
  });

  it("refuses JSON nested deeper than 32 levels with a clear error", async () => {
    const auth = { ...json, authorization: `Bearer ${app.adminKey}` };
    const deep = `{"query":"{ viewer { scopes } }","variables":{"x":${nestedArrays(40)}}}`;
    const response = await app.request("/graphql", { method: "POST", headers: auth, body: deep });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { errors: { message: string }[] }).errors[0]?.message).toBe(
      "The request nests objects and arrays deeper than 32 levels.",
    );
    const get = await app.request(
      `/graphql?query=${encodeURIComponent("{ viewer { scopes } }")}&variables=${encodeURIComponent(`{"x":${nestedArrays(40)}}`)}`,
      { headers: { authorization: `Bearer ${app.adminKey}` } },
    );
    expect(get.status).toBe(400);
    // Nesting within the limit is fine.
    const shallow = `{"query":"{ viewer { scopes } }","variables":{"x":${nestedArrays(20)}}}`;
    const ok = await app.request("/graphql", { method: "POST", headers: auth, body: shallow });
    expect(ok.status).toBe(200);
    // Inline literals in the document are held to the same depth.
    const literal = `{ credentials(first: 1, filter: { search: "x" }) { edges { cursor } } }`;
    expect(
      (
        await app.request("/graphql", {
          method: "POST",
          headers: auth,
          body: JSON.stringify({ query: literal }),
        })
      ).status,
    ).toBe(200);
  });

  it("applies MAX_REQUEST_BYTES", async () => {
    const small = await startTestApp({ env: { MAX_REQUEST_BYTES: "2048" } });
    try {
      const body = JSON.stringify({
        query: "{ viewer { scopes } }",
        variables: { p: "y".repeat(3000) },
      });
      const response = await small.request("/graphql", {
        method: "POST",
        headers: { ...json, authorization: `Bearer ${small.adminKey}` },
        body,
      });
      expect(response.status).toBe(413);
      expect(await response.text()).toContain("larger than 2048 bytes");
    } finally {
      await small.close();
    }
  });
});
