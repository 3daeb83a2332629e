// The server as an operator runs it, one process per test: a taken port, one process per
// embedded data folder (and keys:rewrap beside a running server), and a graceful SIGTERM that
// lets an in-flight request finish and ends a WebSocket subscription with a reason.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";

const root = path.resolve(import.meta.dirname, "../..");

type Run = {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
};

function run(script: string, env: Record<string, string>): Run {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    cwd: root,
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "",
      LOG_LEVEL: "info",
      ...env,
    },
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += chunk));
  child.stderr?.on("data", (chunk) => (stderr += chunk));
  const killer = setTimeout(() => child.kill("SIGKILL"), 90_000);
  const exited = new Promise<number | null>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve(code);
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Resolves with the port once the server logs that it listens. */
async function listening(server: Run): Promise<number> {
  for (;;) {
    const match = /"keyport listening","url":"http:\/\/127\.0\.0\.1:(\d+)\//.exec(server.stdout());
    if (match) return Number(match[1]);
    const exited = await Promise.race([
      server.exited.then(() => true),
      new Promise((resolve) => setTimeout(() => resolve(false), 50)),
    ]);
    if (exited) throw new Error(`server exited before listening: ${server.stderr()}`);
  }
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

const serverEnv = (dataDir: string, port = "0") => ({
  DATA_DIR: dataDir,
  PORT: port,
  HOST: "127.0.0.1",
  REFRESH_SWEEP_INTERVAL_MS: "0",
});

describe("the server process", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "keyport-process-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("on a taken port exits 1 with one line, before creating an admin key", async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as net.AddressInfo).port;
    const dataDir = await tempDir();
    try {
      const server = run("src/server.ts", serverEnv(dataDir, String(port)));
      expect(await server.exited).toBe(1);
      expect(server.stderr().trim()).toBe(
        `keyport cannot listen on 127.0.0.1:${port}: the address is already in use (EADDRINUSE); stop the other process or set PORT`,
      );
      expect(server.stdout()).not.toMatch(/kp_|admin API key/);
      expect(existsSync(path.join(dataDir, "admin-api-key"))).toBe(false);
      expect(existsSync(path.join(dataDir, "pglite"))).toBe(false);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  }, 120_000);

  it("keeps one process per data folder, takes over a stale lock, and shuts down gracefully on SIGTERM", async () => {
    const dataDir = await tempDir();
    // A lock left by a process that is gone (a crash, a power cut) is taken over.
    const gone = spawn(process.execPath, ["-e", ""]);
    const gonePid = gone.pid;
    await new Promise((resolve) => gone.on("exit", resolve));
    await writeFile(
      path.join(dataDir, "keyport.lock"),
      JSON.stringify({ pid: gonePid, startedAt: "2020-01-01T00:00:00.000Z", command: "server" }),
    );
    const first = run("src/server.ts", serverEnv(dataDir));
    const port = await listening(first);
    const lock = JSON.parse(await readFile(path.join(dataDir, "keyport.lock"), "utf8"));
    expect(lock.pid).toBe(first.child.pid);

    // A second server on the same folder refuses, without a stack trace.
    const second = run("src/server.ts", serverEnv(dataDir));
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toContain(
      `the embedded database in ${dataDir} is in use by another keyport process (pid ${first.child.pid}`,
    );
    expect(second.stderr()).not.toMatch(/\n\s+at /);

    // keys:rewrap would work on its own copy of the database: it refuses and names the mutation.
    const rewrap = run("scripts/rewrap.ts", { DATA_DIR: dataDir });
    expect(await rewrap.exited).toBe(1);
    expect(rewrap.stderr()).toContain("rewrapSecrets mutation");
    expect(rewrap.stderr()).toContain("stop the server");
    expect(rewrap.stdout()).not.toContain("rewrapped");

    const key = (await readFile(path.join(dataDir, "admin-api-key"), "utf8")).trim();
    // A WebSocket subscriber...
    const messages: { type: string; payload?: unknown }[] = [];
    const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, "graphql-transport-ws");
    const closed = new Promise<{ code: number; reason: string }>((resolve) =>
      socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    socket.on("message", (data) => {
      const message = JSON.parse(data.toString());
      messages.push(message);
      if (message.type === "connection_ack") {
        socket.send(
          JSON.stringify({
            id: "1",
            type: "subscribe",
            payload: { query: "subscription { credentialEvents { id type } }" },
          }),
        );
      }
    });
    await new Promise((resolve) => socket.on("open", resolve));
    socket.send(
      JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${key}` } }),
    );
    while (!messages.some((m) => m.type === "connection_ack")) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // ...and a request still sending its body when SIGTERM arrives.
    const body = JSON.stringify({ query: "{ viewer { __typename } }" });
    const inFlight = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const client = net.connect(port, "127.0.0.1", () => {
        client.write(
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAuthorization: Bearer ${key}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, 10)}`,
        );
        first.child.kill("SIGTERM");
        // The rest of the body arrives after the server began shutting down.
        setTimeout(() => client.write(body.slice(10)), 500);
      });
      let response = "";
      client.on("data", (chunk) => (response += chunk));
      client.on("error", reject);
      client.on("close", () => {
        const status = Number(/^HTTP\/1\.1 (\d+)/.exec(response)?.[1] ?? 0);
        resolve({ status, text: response.slice(response.indexOf("\r\n\r\n") + 4) });
      });
    });

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(response.text).toContain('"viewer"');
    expect(await closed).toEqual({ code: 1001, reason: "keyport is shutting down" });
    expect(JSON.stringify(messages)).toContain("SHUTTING_DOWN");
    expect(await first.exited).toBe(0);
    expect(first.stdout()).toContain('"msg":"keyport stopped"');
    expect(existsSync(path.join(dataDir, "keyport.lock"))).toBe(false);
    expect(await portIsFree(port)).toBe(true);
  }, 240_000);
});
