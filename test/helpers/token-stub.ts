// A scripted OAuth 2.0 token endpoint on 127.0.0.1 for tests. Each request takes the next
// scripted reply (the last one repeats) and is recorded with its headers and parsed form body.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type RecordedRequest = {
  /** performance.now() when the request arrived, for comparing request times. */
  at: number;
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  form: Record<string, string>;
};

export type JsonReply = { status?: number; body?: unknown; headers?: Record<string, string> };
/** "hang" never answers; a function decides from the request. */
export type StubReply = JsonReply | "hang" | ((request: RecordedRequest) => JsonReply | "hang");

export type TokenStub = {
  /** The token endpoint: `<base>/token`. */
  tokenUrl: string;
  requests: RecordedRequest[];
  /** Replaces the script and forgets recorded requests. */
  script(...replies: StubReply[]): void;
  close(): Promise<void>;
};

export const tokenReply = (fields: Record<string, unknown>, status = 200): JsonReply => ({
  status,
  body: { token_type: "Bearer", expires_in: 3600, ...fields },
});

export const oauthErrorReply = (error: string, status = 400): JsonReply => ({
  status,
  body: { error },
});

export async function startTokenStub(): Promise<TokenStub> {
  let replies: StubReply[] = [];
  const requests: RecordedRequest[] = [];
  const hanging = new Set<ServerResponse>();

  const server = createServer((req, res) => {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const recorded: RecordedRequest = {
        at,
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body,
        form: Object.fromEntries(new URLSearchParams(body)),
      };
      requests.push(recorded);
      const next = (replies.length > 1 ? replies.shift() : replies[0]) ?? {
        status: 500,
        body: { error: "server_error", error_description: "the stub has no scripted reply" },
      };
      const reply = typeof next === "function" ? next(recorded) : next;
      if (reply === "hang") {
        hanging.add(res);
        res.on("close", () => hanging.delete(res));
        return;
      }
      res.writeHead(reply.status ?? 200, {
        "content-type": "application/json",
        connection: "close",
        ...reply.headers,
      });
      res.end(reply.body === undefined ? "" : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;

  return {
    tokenUrl: `http://127.0.0.1:${port}/token`,
    requests,
    script(...next) {
      replies = next;
      requests.length = 0;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A URL on 127.0.0.1 where nothing listens (a port that was just free). */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}/token`;
}
