// The start-up key check: a key ring that is not this database's refuses to start, naming the
// key id, before anything is read or written; /readyz fails when decryption stops working.
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/env.js";
import { formatEncryptionKeys, generateEncryptionKey, KeyRing } from "../../src/lib/crypto.js";
import { createKeyport } from "../../src/yoga.js";
import { createTestDatabase, startTestApp, type TestDatabase, testConfig } from "../helpers/app.js";
import { createCredential } from "../helpers/credentials.js";

const k1 = generateEncryptionKey("k1");
const k1Wrong = generateEncryptionKey("k1");
const k2 = generateEncryptionKey("k2");
const keysEnv = (...keys: (typeof k1)[]) => ({ ENCRYPTION_KEYS: formatEncryptionKeys(keys) });

/** Starts keyport on the database and returns the configuration problems it refused with. */
async function startProblems(testDatabase: TestDatabase, env: Record<string, string>) {
  const database = await testDatabase.open();
  try {
    const keyport = await createKeyport(testConfig(env), { database, logSink: () => {} });
    await keyport.close();
    return [];
  } catch (error) {
    await database.close();
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe("start-up key check", () => {
  let dataDir: string;
  let testDatabase: TestDatabase;
  afterAll(async () => {
    await testDatabase?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("refuses a wrong key or a missing key id, and starts with the right ring", {
    timeout: 60_000,
  }, async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), "keyport-keycheck-"));
    testDatabase = await createTestDatabase(path.join(dataDir, "pglite"));

    const app = await startTestApp({ testDatabase, env: keysEnv(k1) });
    await createCredential(app, {
      name: "login",
      basic: { username: "u", password: "pw-1234567890" },
    });
    const before = await app.database.prisma.credentialSecret.count();
    expect(await app.database.prisma.encryptionKeyCheck.count({ where: { keyId: "k1" } })).toBe(1);
    await app.close();

    // Same key id, other bytes: refused, naming the key.
    const wrong = await startProblems(testDatabase, keysEnv(k1Wrong));
    expect(wrong).toHaveLength(1);
    expect(wrong[0]).toMatch(/key "k1" is not the key/);

    // Another key id only: the key the secrets need is missing.
    const missing = await startProblems(testDatabase, keysEnv(k2));
    expect(missing.join("\n")).toMatch(/lacks key "k1"/);

    // A new key id is accepted and gets its check value; another key under that id later is not.
    expect(
      (await startProblems(testDatabase, keysEnv(k1, generateEncryptionKey("k2")))).length,
    ).toBe(0);
    expect((await startProblems(testDatabase, keysEnv(k1, k2))).join("\n")).toMatch(
      /key "k2" is not the key/,
    );

    // The refused starts wrote nothing; the right ring starts and reads.
    const again = await startTestApp({ testDatabase, env: keysEnv(k1) });
    expect(await again.database.prisma.credentialSecret.count()).toBe(before);
    expect((await again.request("/readyz")).status).toBe(200);
    await again.close();
  });

  it("checks a database that predates check values against its stored secrets", {
    timeout: 60_000,
  }, async () => {
    const database = await testDatabase.open();
    await database.prisma.encryptionKeyCheck.deleteMany();
    await database.close();
    const problems = await startProblems(testDatabase, keysEnv(k1Wrong));
    expect(problems.join("\n")).toMatch(/key "k1" does not decrypt the secrets/);
    // The right key passes and gets its check value back.
    expect(await startProblems(testDatabase, keysEnv(k1))).toEqual([]);
    const reopened = await testDatabase.open();
    expect(await reopened.prisma.encryptionKeyCheck.count({ where: { keyId: "k1" } })).toBe(1);
    await reopened.close();
  });

  it("reports not ready when the active key stops decrypting its check value", async () => {
    const app = await startTestApp({ testDatabase, env: keysEnv(k1) });
    try {
      const ready = await app.request("/readyz");
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ checks: { encryption: "ok" } });
      // A ciphertext under another key with the same id in k1's place: well-formed, and the
      // binding matches, but k1 cannot decrypt it.
      const foreign = await new KeyRing([k1Wrong]).encrypt("keyport encryption key check", {
        workspaceId: "keyport",
        credentialId: "encryption-key-check",
        field: "k1",
      });
      await app.database.prisma.encryptionKeyCheck.update({
        where: { keyId: "k1" },
        data: { ciphertext: foreign },
      });
      const broken = await app.request("/readyz");
      expect(broken.status).toBe(503);
      expect(await broken.json()).toMatchObject({ checks: { encryption: "unavailable" } });
    } finally {
      await app.close();
    }
  });
});
