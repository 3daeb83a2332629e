// The outbound path against real servers, all on loopback addresses (127.0.0.x): the connection
// goes to the checked address, redirects are not followed, bodies are cut at the cap, and slow
// servers hit the deadline. Every host name here is made up and resolved by an injected lookup
// that only ever answers 127.0.0.x, so nothing can leave the machine whatever the code does.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import {
  Outbound,
  OutboundError,
  type OutboundLookup,
  OutboundRefusedError,
} from "../../src/lib/outbound.js";

type TestServer = {
  port: number;
  host: string;
  requests: { host: string | undefined; localAddress: string | undefined; path: string }[];
  connections: number;
  close(): Promise<void>;
};

const servers: TestServer[] = [];
const policies: Outbound[] = [];
afterAll(async () => {
  await Promise.all(policies.map((outbound) => outbound.close()));
  await Promise.all(servers.map((server) => server.close()));
});

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  host = "127.0.0.1",
): Promise<TestServer> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    result.requests.push({
      host: req.headers.host,
      localAddress: req.socket.localAddress,
      path: req.url ?? "",
    });
    handler(req, res);
  });
  server.on("connection", (socket) => {
    result.connections++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const result: TestServer = {
    port: (server.address() as AddressInfo).port,
    host,
    requests: [],
    connections: 0,
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  servers.push(result);
  return result;
}

/** Made-up names to loopback addresses; anything else fails to resolve. */
function loopbackLookup(table: Record<string, string>) {
  const calls: string[] = [];
  const lookup: OutboundLookup = async (hostname) => {
    calls.push(hostname);
    const address = table[hostname];
    if (!address?.startsWith("127.")) throw new Error("ENOTFOUND");
    return [{ address, family: 4 }];
  };
  return { lookup, calls };
}

function outboundWith(options: {
  allow?: string[];
  lookup?: OutboundLookup;
  timeoutMs?: number;
  production?: boolean;
}) {
  const outbound = new Outbound({
    production: options.production ?? false,
    allow: options.allow ?? ["127.0.0.0/8"],
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
  policies.push(outbound);
  return outbound;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a rejection");
}

describe("the connection goes to the checked address", () => {
  it("connects to the address the lookup answered, once, keeping the host name in Host", async () => {
    // Listens on 127.0.0.2 only: a connection to any other address cannot reach it.
    const server = await serve((_req, res) => res.end('{"ok":true}'), "127.0.0.2");
    const { lookup, calls } = loopbackLookup({ "pinned.keyport.test": "127.0.0.2" });
    const outbound = outboundWith({ lookup });

    const response = await outbound.fetch(`http://pinned.keyport.test:${server.port}/x`);
    expect(await response.json()).toEqual({ ok: true });
    expect(server.requests).toEqual([
      { host: `pinned.keyport.test:${server.port}`, localAddress: "127.0.0.2", path: "/x" },
    ]);
    // Resolved once, by the policy; the socket did not resolve the (unresolvable) name again.
    expect(calls).toEqual(["pinned.keyport.test"]);
  });

  it("refuses a name whose answer is not admitted, before any connection", async () => {
    const server = await serve((_req, res) => res.end("{}"));
    const { lookup, calls } = loopbackLookup({ "rebind.keyport.test": "127.0.0.1" });
    const outbound = outboundWith({ lookup, allow: [] });

    const error = await rejection(outbound.fetch(`http://rebind.keyport.test:${server.port}/t`));
    expect(error).toBeInstanceOf(OutboundRefusedError);
    expect(error.message).toBe(
      "rebind.keyport.test resolves to a loopback address (127.0.0.0/8); OUTBOUND_ALLOW can admit it",
    );
    expect(calls).toEqual(["rebind.keyport.test"]);
    expect(server.connections).toBe(0);
  });

  it("admits a name OUTBOUND_ALLOW names and still connects to the looked-up address", async () => {
    const server = await serve((_req, res) => res.end("{}"), "127.0.0.3");
    const { lookup } = loopbackLookup({ "idp.keyport.test": "127.0.0.3" });
    const outbound = outboundWith({ lookup, allow: ["idp.keyport.test"] });
    const response = await outbound.fetch(`http://idp.keyport.test:${server.port}/t`);
    expect(response.status).toBe(200);
    expect(server.requests[0]?.localAddress).toBe("127.0.0.3");
  });

  it("refuses an IP-literal host before connecting", async () => {
    const server = await serve((_req, res) => res.end("{}"));
    const outbound = outboundWith({ allow: [] });
    for (const url of [
      `http://127.0.0.1:${server.port}/t`,
      `http://[::ffff:7f00:1]:${server.port}/t`,
      `http://2130706433:${server.port}/t`,
    ]) {
      const error = await rejection(outbound.fetch(url));
      expect(error, url).toBeInstanceOf(OutboundRefusedError);
    }
    expect(server.connections).toBe(0);
  });

  it("refuses plain http in production before resolving or connecting", async () => {
    const server = await serve((_req, res) => res.end("{}"));
    const { lookup, calls } = loopbackLookup({ "prod.keyport.test": "127.0.0.1" });
    const outbound = outboundWith({ lookup, production: true });
    const error = await rejection(outbound.fetch(`http://prod.keyport.test:${server.port}/t`));
    expect(error).toBeInstanceOf(OutboundRefusedError);
    expect(error.message).toBe("the endpoint prod.keyport.test must use https");
    expect(calls).toEqual([]);
    expect(server.connections).toBe(0);
  });
});

describe("redirects", () => {
  it.each([301, 302, 303, 307, 308])("a %i is not followed", async (status) => {
    const target = await serve((_req, res) => res.end("{}"));
    const origin = await serve((_req, res) => {
      res.writeHead(status, { location: `http://127.0.0.1:${target.port}/elsewhere` });
      res.end();
    });
    const outbound = outboundWith({});
    const error = await rejection(
      outbound.fetch(`http://127.0.0.1:${origin.port}/t`, { method: "POST", body: "a=b" }),
    );
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe("redirect");
    expect(origin.requests).toHaveLength(1);
    expect(target.connections).toBe(0);
  });
});

describe("size cap", () => {
  it("cuts a 50 MB body at 1 MiB without reading the rest", async () => {
    const total = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let sent = 0;
    let closed!: () => void;
    const serverDone = new Promise<void>((resolve) => {
      closed = resolve;
    });
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "content-length": String(total) });
      res.write('{"issuer":"');
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      res.on("close", closed);
      pump();
    });
    const outbound = outboundWith({});
    const before = process.memoryUsage();
    const response = await outbound.fetch(`http://127.0.0.1:${server.port}/big`);
    const error = await rejection(response.text());
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe("too_large");
    expect(error.message).toBe(`the response from 127.0.0.1 exceeds ${1024 * 1024} bytes`);
    await serverDone;
    // The server stopped once the client hung up: what it sent is the cap plus socket buffers,
    // nowhere near the 50 MB it had to offer.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(32 * 1024 * 1024);
  });

  it("passes a body up to the cap", async () => {
    const body = JSON.stringify({ data: "x".repeat(1024 * 1024 - 20) });
    const server = await serve((_req, res) => res.end(body));
    const response = await outboundWith({}).fetch(`http://127.0.0.1:${server.port}/ok`);
    expect((await response.text()).length).toBe(body.length);
  });
});

describe("deadlines", () => {
  it("gives up on a server that never answers", async () => {
    const server = await serve(() => {
      // never answers
    });
    const outbound = outboundWith({ timeoutMs: 300 });
    const started = performance.now();
    const error = await rejection(outbound.fetch(`http://127.0.0.1:${server.port}/hang`));
    const elapsed = performance.now() - started;
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe("timeout");
    expect(error.message).toBe("127.0.0.1 did not answer within 300 ms");
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2_000);
  });

  it("gives up on a body that trickles past the deadline", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.write("{");
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
    });
    const outbound = outboundWith({ timeoutMs: 400 });
    const started = performance.now();
    const response = await outbound.fetch(`http://127.0.0.1:${server.port}/slow`);
    const error = await rejection(response.text());
    expect(error).toBeInstanceOf(OutboundError);
    expect((error as OutboundError).kind).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it("a per-call timeout overrides the default", async () => {
    const server = await serve(() => {
      // never answers
    });
    const outbound = outboundWith({ timeoutMs: 10_000 });
    const started = performance.now();
    const error = await rejection(
      outbound.fetch(`http://127.0.0.1:${server.port}/hang`, { timeoutMs: 200 }),
    );
    expect((error as OutboundError).kind).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(2_000);
  });
});
