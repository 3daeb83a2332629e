// A fake provider API on 127.0.0.1 for verification tests: one route per outcome, a Telegram-style
// token-in-path route and a Zendesk-style Basic route. Every request is recorded.
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export type FakeRequest = { method: string; path: string; headers: IncomingHttpHeaders };

export type FakeProvider = {
  port: number;
  base: string;
  requests: FakeRequest[];
  /** What /verify/switch answers (the idle re-check flips it). */
  switchStatus: number;
  close(): Promise<void>;
};

export async function startFakeProvider(options: {
  goodToken: string;
  /** The bot token /bot<token>/getMe accepts. */
  botToken: string;
  basicUser: string;
  basicPassword: string;
}): Promise<FakeProvider> {
  const requests: FakeRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const state = { switchStatus: 200 };
  const json = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  const server = createServer((req, res) => {
    const path = req.url ?? "";
    requests.push({ method: req.method ?? "", path, headers: req.headers });
    const bearerOk = req.headers.authorization === `Bearer ${options.goodToken}`;
    const telegram = /^\/bot([^/]+)\/getMe$/.exec(path);
    if (telegram) {
      const ok = decodeURIComponent(telegram[1] ?? "") === options.botToken;
      json(res, ok ? 200 : 401, ok ? { ok: true, result: { id: 1 } } : { ok: false });
      return;
    }
    if (path === "/api/v2/users/me.json") {
      const expected = `Basic ${Buffer.from(`${options.basicUser}:${options.basicPassword}`).toString("base64")}`;
      json(res, req.headers.authorization === expected ? 200 : 401, { user: { id: 7 } });
      return;
    }
    const outcome = /^\/verify\/([a-z]+)$/.exec(path)?.[1];
    switch (outcome) {
      case "ok":
        json(res, bearerOk ? 200 : 401, { ok: bearerOk });
        return;
      case "unauthorized":
        json(res, 401, { error: "unauthorized" });
        return;
      case "forbidden":
        json(res, 403, { error: "forbidden" });
        return;
      case "ratelimited":
        json(res, 429, { error: "slow down" });
        return;
      case "broken":
        json(res, 500, { error: "internal" });
        return;
      case "switch":
        json(res, bearerOk ? state.switchStatus : 401, { ok: state.switchStatus === 200 });
        return;
      case "slow":
        hanging.add(res);
        return;
      case "okfalse":
        json(res, 200, { ok: false, error: "invalid_auth" });
        return;
      default:
        json(res, 404, {});
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    base: `http://127.0.0.1:${port}`,
    requests,
    get switchStatus() {
      return state.switchStatus;
    },
    set switchStatus(value: number) {
      state.switchStatus = value;
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A loopback port with nothing listening on it. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
