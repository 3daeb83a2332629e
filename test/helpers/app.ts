// Starts keyport for one test file on its own database: in-memory PGlite by default, or a fresh
// PostgreSQL database on the server named by DATABASE_URL (dropped again on close).
import { randomBytes } from "node:crypto";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import {
  createPostgresDatabase,
  type Database,
  dropPostgresDatabase,
  openDatabase,
  type QueryListener,
} from "../../src/db.js";
import { type Config, parseEnv } from "../../src/env.js";
import { formatEncryptionKeys, generateEncryptionKey } from "../../src/lib/crypto.js";
import { createOutbound, type OutboundLookup } from "../../src/lib/outbound.js";
import { createKeyport, type Keyport } from "../../src/yoga.js";

export const postgresServerUrl = process.env.DATABASE_URL || undefined;

export type TestDatabase = {
  /** Opens (again) the same database; each call returns a new connection. */
  open(options?: { onQuery?: QueryListener }): Promise<Database>;
  databaseUrl: string | undefined;
  drop(): Promise<void>;
  /** The admin key printed by the first start, kept for later starts on the same database. */
  adminKey?: string;
};

/** A fresh, migrated database. PGlite lives in `pgliteDirectory` when given, else in memory. */
export async function createTestDatabase(pgliteDirectory?: string): Promise<TestDatabase> {
  if (postgresServerUrl) {
    const name = `keyport_test_${randomBytes(6).toString("hex")}`;
    const url = await createPostgresDatabase(postgresServerUrl, name);
    const first = await openDatabase({ kind: "postgres", url });
    await first.migrate();
    await first.close();
    return {
      databaseUrl: url,
      open: (options) => openDatabase({ kind: "postgres", url }, options),
      drop: () => dropPostgresDatabase(postgresServerUrl, name),
    };
  }
  if (pgliteDirectory) {
    const first = await openDatabase({ kind: "pglite", directory: pgliteDirectory });
    await first.migrate();
    await first.close();
    return {
      databaseUrl: undefined,
      open: (options) => openDatabase({ kind: "pglite", directory: pgliteDirectory }, options),
      drop: async () => {},
    };
  }
  // An in-memory PGlite cannot be reopened, so `open` hands out the one instance.
  let memory: Database | null = null;
  return {
    databaseUrl: undefined,
    open: async (options) => {
      if (!memory) {
        memory = await openDatabase({ kind: "pglite", directory: null }, options);
        await memory.migrate();
      }
      return memory;
    },
    drop: async () => {},
  };
}

export const testEncryptionKeys = formatEncryptionKeys([generateEncryptionKey("test1")]);

export function testConfig(overrides: Record<string, string> = {}): Config {
  return parseEnv({
    LOG_LEVEL: "warn",
    ENCRYPTION_KEYS: testEncryptionKeys,
    AUTH_JWT_SECRET: "test-jwt-secret-that-is-long-enough-0123456789",
    AUTH_ISSUER: "https://issuer.keyport.test",
    AUTH_AUDIENCE: "keyport",
    // Tests drive refreshes themselves; the sweeper test turns it on.
    REFRESH_SWEEP_INTERVAL_MS: "0",
    ...overrides,
  });
}

export type TestApp = {
  keyport: Keyport;
  adminKey: string;
  logs: string[];
  database: Database;
  request(path: string, init?: RequestInit): Promise<Response>;
  execute<Result, Variables>(
    document: TypedDocumentNode<Result, Variables>,
    variables?: Variables,
    options?: { key?: string | null; headers?: Record<string, string> },
  ): Promise<ExecutionResult<Result>>;
  close(): Promise<void>;
};

export async function startTestApp(
  options: {
    env?: Record<string, string>;
    onQuery?: QueryListener;
    testDatabase?: TestDatabase;
    /** Resolves host names for outbound requests instead of the system resolver. */
    outboundLookup?: OutboundLookup;
  } = {},
): Promise<TestApp> {
  const testDatabase = options.testDatabase ?? (await createTestDatabase());
  const database = await testDatabase.open({ onQuery: options.onQuery });
  const logs: string[] = [];
  const config = testConfig(options.env);
  const keyport = await createKeyport(config, {
    database,
    logSink: (line) => logs.push(line),
    ...(options.outboundLookup ? { outbound: createOutbound(config, options.outboundLookup) } : {}),
  });
  if (keyport.bootstrap.created) testDatabase.adminKey = keyport.bootstrap.adminApiKey;
  const adminKey = testDatabase.adminKey;
  if (!adminKey) throw new Error("expected a fresh database, or one this helper bootstrapped");
  const request = (path: string, init?: RequestInit) =>
    Promise.resolve(keyport.yoga.fetch(new Request(`http://keyport.test${path}`, init)));
  return {
    keyport,
    adminKey,
    logs,
    database,
    request,
    async execute(document, variables, { key = adminKey, headers = {} } = {}) {
      const response = await request("/graphql", {
        method: "POST",
        headers: {
          "content-type": "application/json",
          ...(key ? { authorization: `Bearer ${key}` } : {}),
          ...headers,
        },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return (await response.json()) as ExecutionResult<never>;
    },
    async close() {
      await keyport.close();
      if (!options.testDatabase) await testDatabase.drop();
    },
  };
}

/** Returns `data`, failing the test with the errors when there are any. */
export function dataOf<Result>(result: ExecutionResult<Result>): Result {
  if (result.errors?.length || !result.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  }
  return result.data;
}

export function errorCodes(result: ExecutionResult<unknown>): unknown[] {
  return (result.errors ?? []).map((error) => error.extensions?.code);
}
