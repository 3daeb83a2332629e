// Starts keyport: reads configuration, opens storage, listens. Everything else is in yoga.ts.
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import { openDatabase } from "./db.js";
import { type Config, ConfigError, parseEnv } from "./env.js";
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

async function main() {
  const config = parseEnv(process.env);
  // The provider catalog is checked before the database is touched: a broken file stops here.
  const catalog = loadCatalog({ providersDir: config.providers.dir });
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
  const server = keyport.createHttpServer();
  server.on("error", (error: NodeJS.ErrnoException) => {
    process.stderr.write(
      `keyport cannot listen on ${config.host}:${config.port}: ${error.code ?? error.message}\n`,
    );
    void keyport.close().finally(() => process.exit(1));
  });
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    log.info("keyport listening", {
      url: `http://${config.host}:${port}/graphql`,
      database: keyport.services.db.kind,
      pubsub: keyport.services.pubsub.kind,
    });
  });
  const shutdown = async () => {
    server.close();
    server.closeAllConnections();
    await keyport.close();
    process.exit(0);
  };
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
  } else {
    process.stderr.write(
      `keyport failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
    );
  }
  process.exit(1);
});
