// Online key rotation: write under k1, make k2 active, rewrap while readers keep reading, remove
// k1, restart: everything still reads. Then the same with `npm run keys:rewrap` (k3).
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatEncryptionKeys, generateEncryptionKey } from "../../src/lib/crypto.js";
import {
  createTestDatabase,
  dataOf,
  startTestApp,
  type TestApp,
  type TestDatabase,
} from "../helpers/app.js";
import {
  AcquireHeadersMutation,
  CredentialsQuery,
  RewrapSecretsMutation,
} from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";

const root = path.resolve(import.meta.dirname, "../..");
const [k1, k2, k3] = ["k1", "k2", "k3"].map(generateEncryptionKey) as [
  ReturnType<typeof generateEncryptionKey>,
  ReturnType<typeof generateEncryptionKey>,
  ReturnType<typeof generateEncryptionKey>,
];

const expected: Record<string, string> = {};

async function readAllValues(app: TestApp, key: string) {
  const page = dataOf(await app.execute(CredentialsQuery, { first: 100 }, { key })).credentials;
  const values: Record<string, string | null | undefined> = {};
  for (const { node } of page.edges) {
    if (node.__typename === "BasicCredential")
      values[`${node.name}/password`] = node.password.value;
    if (node.__typename === "BearerCredential") values[`${node.name}/token`] = node.token.value;
    if (node.__typename === "OAuth2Credential") {
      values[`${node.name}/clientSecret`] = node.clientSecret.value;
      values[`${node.name}/refreshToken`] = node.refreshToken?.value;
    }
    if (node.__typename === "ClientCredentialsCredential")
      values[`${node.name}/clientSecret`] = node.clientSecret.value;
  }
  return values;
}

function runRewrapScript(env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(path.join(root, "node_modules", ".bin", "tsx"), ["scripts/rewrap.ts"], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: process.env.HOME ?? "",
        LOG_LEVEL: "warn",
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("encryption key rotation", () => {
  let dataDir: string;
  let testDatabase: TestDatabase;
  afterAll(async () => {
    await testDatabase?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("rewraps online, then reads everything with the old key removed", {
    timeout: 120_000,
  }, async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "keyport-keys-"));
    testDatabase = await createTestDatabase(path.join(dataDir, "pglite"));
    const keysEnv = (keys: (typeof k1)[]) => ({ ENCRYPTION_KEYS: formatEncryptionKeys(keys) });

    // 1. Everything written under k1.
    let app = await startTestApp({ testDatabase, env: keysEnv([k1]) });
    const user = await createKey(app, ["credentials:read", "credentials:use", "credentials:write"]);
    for (let i = 0; i < 8; i++) {
      const password = `password-${i}-value`;
      const token = `token-${i}-value`;
      expected[`basic ${i}/password`] = password;
      expected[`bearer ${i}/token`] = token;
      await createCredential(app, { name: `basic ${i}`, basic: { username: "u", password } });
      await createCredential(app, { name: `bearer ${i}`, bearer: { token } });
    }
    expected["oauth/clientSecret"] = "oauth-client-secret";
    expected["oauth/refreshToken"] = "oauth-refresh-token";
    await createCredential(app, {
      name: "oauth",
      oauth2: {
        clientId: "c",
        clientSecret: expected["oauth/clientSecret"],
        refreshToken: expected["oauth/refreshToken"],
        authorizationUrl: "https://auth.example/a",
        tokenUrl: "https://auth.example/t",
      },
    });
    expected["cc/clientSecret"] = "cc-client-secret";
    await createCredential(app, {
      name: "cc",
      verify: false,
      clientCredentials: {
        clientId: "c",
        clientSecret: expected["cc/clientSecret"],
        tokenUrl: "https://auth.example/t",
      },
    });
    expect(await readAllValues(app, user)).toEqual(expected);
    const secretCount = await app.database.prisma.credentialSecret.count();
    expect(await app.database.prisma.credentialSecret.count({ where: { keyId: "k1" } })).toBe(
      secretCount,
    );
    await app.close();

    // 2. k2 becomes active, k1 still decrypts. Rewrap while 20 readers keep reading.
    app = await startTestApp({ testDatabase, env: keysEnv([k2, k1]) });
    expect(await readAllValues(app, user)).toEqual(expected);
    const rows = await app.database.prisma.credential.findMany({
      where: { kind: { in: ["BASIC", "BEARER"] } },
    });
    const { encodeGlobalID } = await import("@pothos/plugin-relay");
    const targets = rows.map((row) => ({
      id: encodeGlobalID(row.kind === "BASIC" ? "BasicCredential" : "BearerCredential", row.id),
      header:
        row.kind === "BASIC"
          ? `Basic ${Buffer.from(`u:${expected[`${row.name}/password`]}`).toString("base64")}`
          : `Bearer ${expected[`${row.name}/token`]}`,
    }));
    let rewrapDone = false;
    let reads = 0;
    const failures: unknown[] = [];
    // Readers decrypt on the hot path (acquireCredentialHeaders) throughout the rewrap.
    const readers = Array.from({ length: 20 }, async (_, reader) => {
      for (let i = 0; !rewrapDone || i < 3; i++) {
        const target = targets[(reader + i) % targets.length];
        if (!target) break;
        const result = await app.execute(
          AcquireHeadersMutation,
          { input: { credentialId: target.id } },
          { key: user },
        );
        const header = result.data?.acquireCredentialHeaders;
        if (
          header?.__typename !== "AcquireCredentialHeadersSuccess" ||
          header.headers[0]?.value !== target.header
        ) {
          failures.push(result);
        }
        reads++;
        // Like callers on sockets: each request is its own event, not a microtask chain. With the
        // embedded database and synchronous decryption, an unbroken chain would starve timers.
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    const rewrap = dataOf(
      await app.execute(RewrapSecretsMutation, { input: { batchSize: 3 } }),
    ).rewrapSecrets;
    rewrapDone = true;
    await Promise.all(readers);
    expect(rewrap).toEqual({
      __typename: "RewrapSecretsSuccess",
      rewrapped: secretCount,
      remaining: 0,
      activeKeyId: "k2",
    });
    expect(failures).toEqual([]);
    expect(reads).toBeGreaterThanOrEqual(60);
    await app.close();

    // 3. k1 removed, restart: every credential still reads and hands out headers.
    app = await startTestApp({ testDatabase, env: keysEnv([k2]) });
    expect(await readAllValues(app, user)).toEqual(expected);
    const firstBearer = await app.database.prisma.credential.findFirstOrThrow({
      where: { name: "bearer 0" },
    });
    const acquired = dataOf(
      await app.execute(
        AcquireHeadersMutation,
        { input: { credentialId: encodeGlobalID("BearerCredential", firstBearer.id) } },
        { key: user },
      ),
    ).acquireCredentialHeaders;
    expect(acquired).toMatchObject({ headers: [{ value: "Bearer token-0-value" }] });
    await app.close();

    // 4. The command-line rewrap moves everything to k3; then only k3 is needed.
    const scriptEnv = testDatabase.databaseUrl
      ? { DATABASE_URL: testDatabase.databaseUrl, ...keysEnv([k3, k2]) }
      : { DATA_DIR: dataDir, ...keysEnv([k3, k2]) };
    const script = await runRewrapScript(scriptEnv);
    expect(script.stderr).toBe("");
    expect(script.stdout).toContain(`rewrapped ${secretCount} secret(s) under key k3; 0 remain`);
    expect(script.code).toBe(0);
    app = await startTestApp({ testDatabase, env: keysEnv([k3]) });
    expect(await readAllValues(app, user)).toEqual(expected);
    await app.close();
  });
});
