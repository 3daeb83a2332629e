// `npm run db:migrate`: applies prisma/migrations to PostgreSQL (DATABASE_URL), creating the
// database first when it does not exist and the user may create it; without DATABASE_URL, to the
// embedded database in DATA_DIR. Needs runtime dependencies only. It writes Prisma's own
// `_prisma_migrations` rows under Prisma's advisory lock, so `prisma migrate status` and
// `prisma migrate deploy` agree with it.
import path from "node:path";
import pg from "pg";
import { openDatabase } from "../src/db.js";
import { ConfigError, parseDatabaseUrl } from "../src/env.js";
import { acquireDataDirLock, DataDirLockedError } from "../src/lib/data-lock.js";

/** Creates the database named in `url` through the `postgres` (else `template1`) database. */
async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.replace(/^\//, "")) || target.username;
  const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  try {
    await probe.connect();
    return;
  } catch (error) {
    if ((error as { code?: string }).code !== "3D000") throw error; // not "database missing"
  } finally {
    await probe.end().catch(() => {});
  }
  let lastError: unknown;
  for (const maintenance of ["postgres", "template1"]) {
    const admin = new URL(url);
    admin.pathname = `/${maintenance}`;
    const client = new pg.Client({
      connectionString: admin.toString(),
      connectionTimeoutMillis: 5_000,
    });
    try {
      await client.connect();
    } catch (error) {
      lastError = error;
      await client.end().catch(() => {});
      continue;
    }
    try {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
      process.stdout.write(`created database "${name}"\n`);
      return;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "42P04") return; // created meanwhile
      if (code === "42501") {
        throw new Error(
          `database "${name}" does not exist and this user may not create it (CREATE DATABASE denied); create it, or grant CREATEDB`,
        );
      }
      throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new Error(
    `database "${name}" does not exist, and neither the "postgres" nor the "template1" database could be reached to create it: ${(lastError as Error)?.message ?? lastError}`,
  );
}

async function main() {
  const databaseUrl = parseDatabaseUrl(process.env.DATABASE_URL);
  if (databaseUrl) {
    await ensureDatabase(databaseUrl);
    const db = await openDatabase({ kind: "postgres", url: databaseUrl }, { hotConnections: 1 });
    try {
      report(await db.migrate());
    } finally {
      await db.close();
    }
    return;
  }
  const dataDir = path.resolve(process.env.DATA_DIR || "./.data");
  const lock = acquireDataDirLock(dataDir, "db:migrate");
  try {
    const db = await openDatabase({ kind: "pglite", directory: path.join(dataDir, "pglite") });
    try {
      report(await db.migrate());
    } finally {
      await db.close();
    }
  } finally {
    lock.release();
  }
}

function report(applied: string[]) {
  process.stdout.write(
    applied.length === 0
      ? "the database schema is up to date\n"
      : `applied ${applied.length} migration(s):\n${applied.map((name) => `  ${name}\n`).join("")}`,
  );
}

main().catch((error: unknown) => {
  const message =
    error instanceof ConfigError || error instanceof DataDirLockedError
      ? error.message
      : `db:migrate failed: ${error instanceof Error ? error.message : String(error)}`;
  process.stderr.write(`${message}\n`);
  process.exit(1);
});
