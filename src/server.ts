// Starts keyport: reads configuration, binds the port, opens storage, serves; on SIGTERM or
// SIGINT it shuts down gracefully and exits 0. Everything else is in yoga.ts.
import { chmod, mkdir, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import path from "node:path";
import { openDatabase } from "./db.js";
import { type Config, ConfigError, parseEnv } from "./env.js";
import { acquireDataDirLock, DataDirLockedError } from "./lib/data-lock.js";
import { loadCatalog } from "./modules/catalog/catalog.js";
import { createKeyport } from "./yoga.js";

async function prepare(config: Config) {
  const problems: string[] = [];
  if (!config.databaseUrl) {
    const db = await openDatabase({
      kind: "pglite",
      directory: path.join(config.dataDir, "pglite"),
    });
    await db.migrate();
    return db;
  }
  const db = await openDatabase({ kind: "postgres", url: config.databaseUrl });
  try {
    await db.ping();
    const pending = await db.pendingMigrations();
    if (pending.length > 0) {
      problems.push(
        `the database schema is behind (${pending.length} migration(s) pending): run npm run db:migrate`,
      );
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    problems.push(`DATABASE_URL cannot be reached: ${reason}`);
  }
  if (problems.length > 0) {
    await db.close().catch(() => {});
    throw new ConfigError(problems);
  }
  return db;
}

/** How long in-flight requests may take to finish once a shutdown begins. */
const requestDrainMs = 10_000;
/** How long running token refreshes may take to finish once a shutdown begins. */
const refreshDrainMs = 5_000;

class ListenError extends Error {}

/** Binds the port before anything else happens, so a taken port changes nothing on disk. */
function listen(server: Server, config: Config): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      const why =
        error.code === "EADDRINUSE"
          ? "the address is already in use (EADDRINUSE); stop the other process or set PORT"
          : error.code === "EACCES"
            ? "permission denied (EACCES); choose a PORT above 1023 or run with the right to bind it"
            : error.code === "EADDRNOTAVAIL"
              ? "no such address on this machine (EADDRNOTAVAIL); check HOST"
              : (error.code ?? error.message);
      reject(new ListenError(`keyport cannot listen on ${config.host}:${config.port}: ${why}`));
    };
    server.once("error", onError);
    server.listen(config.port, config.host, () => {
      server.off("error", onError);
      resolve();
    });
  });
}

/** Answers while storage opens and migrations run: not ready yet. */
function starting(_request: IncomingMessage, response: ServerResponse) {
  response.writeHead(503, { "content-type": "application/json", "retry-after": "1" });
  response.end(JSON.stringify({ status: "starting" }));
}

async function main() {
  // Configuration first: every problem in one message, before anything is opened or written.
  const config = parseEnv(process.env);
  // The provider catalog is checked before the database is touched: a broken file stops here.
  const catalog = loadCatalog({ providersDir: config.providers.dir });
  const lock = config.databaseUrl ? null : acquireDataDirLock(config.dataDir, "server");
  const server = createServer(starting);
  let inFlight = 0;
  server.on("request", (_request, response: ServerResponse) => {
    inFlight++;
    response.once("close", () => inFlight--);
  });
  await listen(server, config);
  const database = await prepare(config);
  const keyport = await createKeyport(config, { database, catalog });
  const log = keyport.services.logger;
  if (keyport.bootstrap.created) {
    const keyFile = path.join(config.dataDir, "admin-api-key");
    await mkdir(config.dataDir, { recursive: true });
    await writeFile(keyFile, `${keyport.bootstrap.adminApiKey}\n`, { mode: 0o600 });
    await chmod(keyFile, 0o600);
    // Printed once, on the first start only, so the operator can sign in to GraphiQL.
    process.stdout.write(
      `\nCreated workspace "default" and an admin API key (also written to ${keyFile}):\n\n  ${keyport.bootstrap.adminApiKey}\n\n`,
    );
  }
  server.off("request", starting);
  keyport.createHttpServer(server);
  server.on("error", (error) => log.error("http server error", { error }));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  log.info("keyport listening", {
    url: `http://${config.host}:${port}/graphql`,
    database: keyport.services.db.kind,
    pubsub: keyport.services.pubsub.kind,
  });

  let stopping = false;
  const shutdown = async (signal: NodeJS.Signals) => {
    if (stopping) {
      log.warn("second signal during shutdown: exiting now", { signal });
      process.exit(1);
    }
    stopping = true;
    log.info("keyport shutting down", { signal, inFlight });
    // Stop accepting; idle keep-alive connections close, busy ones once their response is out.
    server.close();
    const idle = setInterval(() => server.closeIdleConnections(), 50);
    try {
      // Subscriptions end with a reason (their SSE responses complete, WebSockets close 1001).
      await keyport.endSubscriptions();
      const deadline = Date.now() + requestDrainMs;
      while (inFlight > 0 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      if (inFlight > 0) log.warn("requests still running at the deadline were cut", { inFlight });
      clearInterval(idle);
      server.closeAllConnections();
      await keyport.close({ drainMs: refreshDrainMs });
      lock?.release();
      log.info("keyport stopped");
      process.exit(0);
    } catch (error) {
      log.error("shutdown failed", { error });
      process.exit(1);
    }
  };
  process.on("SIGINT", (signal) => void shutdown(signal));
  process.on("SIGTERM", (signal) => void shutdown(signal));
}

main().catch((error: unknown) => {
  if (
    error instanceof ConfigError ||
    error instanceof ListenError ||
    error instanceof DataDirLockedError
  ) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `keyport failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  process.exit(1);
});
