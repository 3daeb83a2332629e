// Opens the database behind Prisma: embedded PGlite (files in DATA_DIR, or memory for tests) or
// PostgreSQL. Both are driven through Prisma driver adapters and share one migration history.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { PrismaPGlite } from "pglite-prisma-adapter";
import { PrismaClient } from "./generated/prisma/client.js";
import { PipelinedQueries } from "./lib/pg-pipeline.js";

export type { PrismaClient } from "./generated/prisma/client.js";

export type DatabaseTarget =
  | { kind: "postgres"; url: string }
  | { kind: "pglite"; directory: string | null /* null: in memory */ };

/** Raw SQL access used by the migration runner and by health checks. */
interface SqlRunner {
  exec(sql: string): Promise<void>;
  query<Row>(sql: string, params?: unknown[]): Promise<Row[]>;
  close(): Promise<void>;
}

export interface Database {
  readonly kind: DatabaseTarget["kind"];
  readonly prisma: PrismaClient;
  /**
   * Runs one parameterised statement on the driver directly, without Prisma's per-query cost; for
   * the few statements on the request hot path. `sql` must be a constant (no values spliced in:
   * pass them as $1, $2... in `params`): on PostgreSQL each distinct text becomes a prepared
   * statement on every pooled connection. Rows come back keyed by column name, with timestamptz
   * as Date, json/jsonb as parsed values and arrays as arrays, like Prisma returns them.
   */
  query<Row extends object>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  ping(): Promise<void>;
  /** Applies pending migrations (under an advisory lock on PostgreSQL). */
  migrate(): Promise<string[]>;
  /** Names of migrations in prisma/migrations that the database has not applied. */
  pendingMigrations(): Promise<string[]>;
  close(): Promise<void>;
}

export type QueryListener = (sql: string) => void;

export type RawQuery = Database["query"];

// Services receive the PrismaClient; this finds the raw driver of the Database that opened it.
const rawQueries = new WeakMap<object, RawQuery>();

/**
 * The raw-query method of the Database whose `prisma` this is, or null for any other client (a
 * transaction client, for one: statements through it must stay inside the transaction).
 */
export function rawQueryFor(prisma: PrismaClient): RawQuery | null {
  return rawQueries.get(prisma) ?? null;
}

// prisma/migrations at the package root: one level up from src/db.ts, two from the compiled
// dist/src/db.js.
const migrationsDir = [
  new URL("../prisma/migrations", import.meta.url),
  new URL("../../prisma/migrations", import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(dir)) as string;
// The lock id Prisma's own migrate engine uses, so `prisma migrate deploy` and keyport never
// apply migrations at the same time.
const migrationLockId = 72707369;
// PostgreSQL connections per process: Prisma's pool, plus a few pipelined ones for `query`.
const defaultPoolSize = 10;
const defaultHotConnections = 2;

export async function openDatabase(
  target: DatabaseTarget,
  options: {
    onQuery?: QueryListener;
    /** Prisma's connection pool on PostgreSQL. */
    poolSize?: number;
    /** Pipelined connections for the hot-path statements (`query`) on PostgreSQL. */
    hotConnections?: number;
  } = {},
): Promise<Database> {
  let runner: SqlRunner;
  let prisma: PrismaClient;
  let hotQuery: <Row>(sql: string, params: unknown[]) => Promise<Row[]>;
  let closeDriver: () => Promise<void> = async () => {};
  const log = options.onQuery ? [{ emit: "event" as const, level: "query" as const }] : [];

  if (target.kind === "pglite") {
    if (target.directory) mkdirSync(target.directory, { recursive: true });
    const pglite = target.directory ? new PGlite(target.directory) : new PGlite();
    await pglite.waitReady;
    runner = {
      exec: async (sql) => {
        await pglite.exec(sql);
      },
      query: async <Row>(sql: string, params?: unknown[]) =>
        (await pglite.query<Row>(sql, params)).rows,
      close: () => pglite.close(),
    };
    prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), log });
    hotQuery = async <Row>(sql: string, params: unknown[]) =>
      (await pglite.query<Row>(sql, params)).rows;
  } else {
    const pool = new pg.Pool({
      connectionString: target.url,
      max: 2,
      connectionTimeoutMillis: 5_000,
    });
    // An idle client that loses its server must not crash the process.
    pool.on("error", () => {});
    runner = {
      exec: async (sql) => {
        await pool.query(sql);
      },
      query: async <Row>(sql: string, params?: unknown[]) =>
        (await pool.query(sql, params)).rows as Row[],
      close: () => pool.end(),
    };
    prisma = new PrismaClient({
      adapter: new PrismaPg({
        connectionString: target.url,
        max: options.poolSize ?? defaultPoolSize,
        connectionTimeoutMillis: 5_000,
      }),
      log,
    });
    const pipelined = new PipelinedQueries({
      connectionString: target.url,
      connections: options.hotConnections ?? defaultHotConnections,
      connectionTimeoutMillis: 5_000,
    });
    hotQuery = <Row>(sql: string, params: unknown[]) => pipelined.query<Row>(sql, params);
    closeDriver = () => pipelined.close();
  }

  if (options.onQuery) {
    const listener = options.onQuery;
    (prisma as unknown as { $on(event: "query", cb: (e: { query: string }) => void): void }).$on(
      "query",
      (event) => listener(event.query),
    );
  }

  const pendingMigrations = async () => {
    const available = await readMigrations();
    const applied = await appliedMigrationNames(runner);
    return available.filter((m) => !applied.has(m.name)).map((m) => m.name);
  };

  const queryListener = options.onQuery;
  const query: RawQuery = <Row extends object>(sql: string, params: readonly unknown[] = []) => {
    queryListener?.(sql);
    return hotQuery<Row>(sql, params as unknown[]);
  };
  rawQueries.set(prisma, query);
  return {
    kind: target.kind,
    prisma,
    query,
    ping: async () => {
      await runner.query("SELECT 1");
    },
    pendingMigrations,
    migrate: async () => {
      if (target.kind === "postgres") {
        await runner.exec(`SELECT pg_advisory_lock(${migrationLockId})`);
      }
      try {
        return await applyMigrations(runner);
      } finally {
        if (target.kind === "postgres") {
          await runner.exec(`SELECT pg_advisory_unlock(${migrationLockId})`);
        }
      }
    },
    close: async () => {
      await prisma.$disconnect();
      await closeDriver();
      await runner.close();
    },
  };
}

type Migration = { name: string; sql: string; checksum: string };

async function readMigrations(): Promise<Migration[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
  return Promise.all(
    names.map(async (name) => {
      const sql = await readFile(path.join(migrationsDir, name, "migration.sql"), "utf8");
      return { name, sql, checksum: createHash("sha256").update(sql).digest("hex") };
    }),
  );
}

// Same table and columns as Prisma's migrate engine, so `prisma migrate deploy` and
// `prisma migrate status` agree with what keyport applied itself.
const createMigrationsTable = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id" VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum" VARCHAR(64) NOT NULL,
  "finished_at" TIMESTAMPTZ,
  "migration_name" VARCHAR(255) NOT NULL,
  "logs" TEXT,
  "rolled_back_at" TIMESTAMPTZ,
  "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

async function appliedMigrationNames(runner: SqlRunner): Promise<Set<string>> {
  const exists = await runner.query<{ present: boolean }>(
    `SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`,
  );
  if (!exists[0]?.present) return new Set();
  const rows = await runner.query<{ migration_name: string }>(
    `SELECT migration_name FROM "_prisma_migrations"
     WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL`,
  );
  return new Set(rows.map((r) => r.migration_name));
}

async function applyMigrations(runner: SqlRunner): Promise<string[]> {
  await runner.exec(createMigrationsTable);
  const applied = await appliedMigrationNames(runner);
  const done: string[] = [];
  for (const migration of await readMigrations()) {
    if (applied.has(migration.name)) continue;
    const id = crypto.randomUUID();
    await runner.exec("BEGIN");
    try {
      await runner.exec(migration.sql);
      await runner.query(
        `INSERT INTO "_prisma_migrations"
           (id, checksum, migration_name, started_at, finished_at, applied_steps_count)
         VALUES ($1, $2, $3, now(), now(), 1)`,
        [id, migration.checksum, migration.name],
      );
      await runner.exec("COMMIT");
    } catch (error) {
      await runner.exec("ROLLBACK");
      throw new Error(`migration ${migration.name} failed: ${(error as Error).message}`);
    }
    done.push(migration.name);
  }
  return done;
}

/** Creates a PostgreSQL database (tests and CI use a fresh one per run or file). */
export async function createPostgresDatabase(serverUrl: string, name: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE "${name.replace(/"/g, "")}"`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropPostgresDatabase(serverUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 5_000 });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name.replace(/"/g, "")}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}
