// A local OAuth token endpoint for the OAuth scenarios: answers every refresh after a fixed
// service time with a new access and refresh token, and counts calls. It runs in the bench
// process on 127.0.0.1 only.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export type TokenServer = {
  url: string;
  /** Token requests received so far. */
  calls(): number;
  /** Time the server itself spent per answer (its service time), in ms. */
  serviceTimesMs(): number[];
  close(): Promise<void>;
};

let shared: Promise<TokenServer> | null = null;

/** One token server per bench run, started on first use. */
export function tokenServer(serviceTimeMs = 25): Promise<TokenServer> {
  shared ??= start(serviceTimeMs);
  return shared;
}

export async function closeTokenServer(): Promise<void> {
  const server = await shared;
  shared = null;
  await server?.close();
}

async function start(serviceTimeMs: number): Promise<TokenServer> {
  let calls = 0;
  const times: number[] = [];
  const server: Server = createServer((request, response) => {
    const began = performance.now();
    request.resume();
    request.on("end", () => {
      calls++;
      const n = calls;
      setTimeout(() => {
        response.writeHead(200, { "content-type": "application/json", connection: "close" });
        response.end(
          JSON.stringify({
            access_token: `bench-access-${n}`,
            refresh_token: `bench-refresh-${n}`,
            token_type: "Bearer",
            expires_in: 3600,
          }),
        );
        times.push(performance.now() - began);
      }, serviceTimeMs);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/token`,
    calls: () => calls,
    serviceTimesMs: () => [...times],
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
