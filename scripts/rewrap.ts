// `npm run keys:rewrap`: re-encrypts every secret under the active key (the first entry of
// ENCRYPTION_KEYS), in batches, while keyport keeps serving. Afterwards the old keys can be
// removed from ENCRYPTION_KEYS.
import path from "node:path";
import { openDatabase } from "../src/db.js";
import { ConfigError, parseEnv } from "../src/env.js";
import { KeyRing, loadOrCreateKeyFile, parseEncryptionKeys } from "../src/lib/crypto.js";
import { acquireDataDirLock, type DataDirLock, DataDirLockedError } from "../src/lib/data-lock.js";
import { checkKeyRing } from "../src/lib/key-check.js";
import { createLogger } from "../src/lib/logger.js";
import { rewrapSecrets } from "../src/modules/credentials/credentials.service.js";

async function main() {
  const config = parseEnv(process.env);
  const keys = parseEncryptionKeys(
    config.encryptionKeys ?? (await loadOrCreateKeyFile(config.dataDir)),
  );
  if (keys.problems.length > 0) throw new ConfigError(keys.problems);
  // The embedded database belongs to one process: a running server's copy would overwrite ours.
  let lock: DataDirLock | null = null;
  if (!config.databaseUrl) {
    try {
      lock = acquireDataDirLock(config.dataDir, "keys:rewrap");
    } catch (error) {
      if (!(error instanceof DataDirLockedError)) throw error;
      throw new Error(
        `keys:rewrap cannot open the embedded database in ${config.dataDir}: keyport (pid ${error.holder.pid}) is running on it. Run the rewrapSecrets mutation on the running server instead (an admin API key), or stop the server and run keys:rewrap again.`,
      );
    }
  }
  const db = await openDatabase(
    config.databaseUrl
      ? { kind: "postgres", url: config.databaseUrl }
      : { kind: "pglite", directory: path.join(config.dataDir, "pglite") },
  );
  try {
    if (db.kind === "pglite") await db.migrate();
    const keyRing = new KeyRing(keys.keys);
    // The same check as at start: never rewrap under a key that is not this database's.
    const problems = await checkKeyRing(db.prisma, keyRing);
    if (problems.length > 0) throw new ConfigError(problems);
    const result = await rewrapSecrets({
      prisma: db.prisma,
      keyRing,
      logger: createLogger(config.logLevel),
    });
    process.stdout.write(
      `rewrapped ${result.rewrapped} secret(s) under key ${result.activeKeyId}; ${result.remaining} remain under other keys\n`,
    );
    if (result.remaining > 0) process.exitCode = 1;
  } finally {
    await db.close();
    lock?.release();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
