// Several keyport instances on one database: real server processes on a shared PostgreSQL when
// DATABASE_URL is set, else instances in this process sharing one embedded database (PGlite is
// single-process). Either way, coordination goes through the database only.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import type { Database } from "../../src/db.js";
import type { Refresher } from "../../src/modules/credentials/refresh.service.js";
import { createMemoryPubSub } from "../../src/pubsub.js";
import { createKeyport, type Keyport } from "../../src/yoga.js";
import { createTestDatabase, testConfig, testEncryptionKeys } from "./app.js";

const root = path.resolve(import.meta.dirname, "../..");

export type Instance = {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Where the instance listens (http://127.0.0.1:<port>), for SSE and WebSocket clients. */
  origin: string;
  /** The app, for instances in this process. */
  keyport: Keyport | null;
  /** The process id, for real server processes. */
  pid: number | null;
  /** The refresher, for instances in this process (fault injection). */
  refresher: Refresher | null;
  logs: string[];
};

export type Cluster = {
  instances: Instance[];
  adminKey: string;
  /** Direct database access for the test's own checks and setup. */
  database: Database;
  mode: "processes" | "in-process";
  close(): Promise<void>;
};

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function startCluster(
  size: number,
  env: Record<string, string> = {},
): Promise<Cluster> {
  const testDatabase = await createTestDatabase();
  const database = await testDatabase.open();
  const baseEnv: Record<string, string> = {
    LOG_LEVEL: "warn",
    REFRESH_SWEEP_INTERVAL_MS: "0",
    ...env,
  };

  if (!testDatabase.databaseUrl) {
    const keyports: Keyport[] = [];
    const servers: Server[] = [];
    const instances: Instance[] = [];
    // Without Redis, the instances share one in-process bus, as instances on one Redis share it.
    const sharedBus = baseEnv.REDIS_URL ? undefined : createMemoryPubSub();
    for (let i = 0; i < size; i++) {
      const logs: string[] = [];
      const keyport = await createKeyport(testConfig(baseEnv), {
        database,
        ...(sharedBus ? { pubsub: sharedBus } : {}),
        logSink: (line) => logs.push(line),
      });
      keyports.push(keyport);
      const server = keyport.createHttpServer();
      servers.push(server);
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      instances.push({
        origin: `http://127.0.0.1:${port}`,
        keyport,
        pid: null,
        refresher: keyport.services.refresher,
        logs,
        fetch: async (requestPath, init) =>
          keyport.yoga.fetch(new Request(`http://keyport.test${requestPath}`, init)),
      });
    }
    const first = keyports[0]?.bootstrap;
    if (!first?.created) throw new Error("expected the first instance to bootstrap");
    return {
      instances,
      adminKey: first.adminApiKey,
      database,
      mode: "in-process",
      async close() {
        for (const keyport of keyports) keyport.services.refresher.stopSweeper();
        for (const server of servers) {
          server.closeAllConnections();
          server.close();
        }
        await Promise.all(keyports.map((keyport) => keyport.services.pubsub.close()));
        await database.close();
      },
    };
  }

  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  const instances: Instance[] = [];
  const close = async () => {
    for (const child of children) {
      if (child.exitCode === null) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
      }
    }
    await database.close();
    await testDatabase.drop();
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  };
  try {
    for (let i = 0; i < size; i++) {
      const port = await freePort();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "keyport-cluster-"));
      dirs.push(dataDir);
      const logs: string[] = [];
      // `node --import tsx` keeps the server in one process, so signals reach it directly.
      const child = spawn(process.execPath, ["--import", "tsx", "src/server.ts"], {
        cwd: root,
        env: {
          PATH: process.env.PATH ?? "",
          HOME: process.env.HOME ?? "",
          DATABASE_URL: testDatabase.databaseUrl,
          ENCRYPTION_KEYS: testEncryptionKeys,
          HOST: "127.0.0.1",
          PORT: String(port),
          PUBLIC_URL: `http://127.0.0.1:${port}`,
          DATA_DIR: dataDir,
          ...baseEnv,
        },
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      child.stdout?.on("data", (chunk) => logs.push(String(chunk)));
      child.stderr?.on("data", (chunk) => logs.push(String(chunk)));
      const base = `http://127.0.0.1:${port}`;
      await waitFor(
        async () => (await fetch(`${base}/readyz`)).ok,
        30_000,
        `instance ${i} to be ready`,
      );
      instances.push({
        origin: base,
        keyport: null,
        pid: child.pid ?? null,
        refresher: null,
        logs,
        fetch: (requestPath, init) => fetch(`${base}${requestPath}`, init),
      });
    }
    const adminKey = (await readFile(path.join(dirs[0] ?? "", "admin-api-key"), "utf8")).trim();
    return { instances, adminKey, database, mode: "processes", close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Sends one typed GraphQL operation to an instance. */
export async function graphqlRequest<Result, Variables>(
  instance: Instance,
  key: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Promise<ExecutionResult<Result>> {
  const response = await instance.fetch("/graphql", {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as ExecutionResult<Result>;
}
