import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createKeyport } from "../../src/yoga.js";
import { createTestDatabase, dataOf, startTestApp, testConfig } from "../helpers/app.js";
import { CreateApiKeyMutation, ViewerQuery } from "../helpers/documents.js";

describe("restart on the same storage", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("keeps workspaces and keys, and does not bootstrap twice", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "keyport-restart-"));
    dirs.push(dir);
    // File-backed PGlite here; a fresh PostgreSQL database when DATABASE_URL is set.
    const testDatabase = await createTestDatabase(path.join(dir, "pglite"));
    const first = await startTestApp({ testDatabase });
    const created = dataOf(
      await first.execute(CreateApiKeyMutation, {
        input: { name: "kept", scopes: ["credentials:read"] },
      }),
    ).createApiKey;
    if (created.__typename !== "CreateApiKeySuccess") throw new Error("createApiKey failed");
    await first.close();

    const database = await testDatabase.open();
    expect(await database.pendingMigrations()).toEqual([]);
    const second = await createKeyport(testConfig(), { database, logSink: () => {} });
    try {
      expect(second.bootstrap.created).toBe(false);
      expect(await database.prisma.workspace.count()).toBe(1);
      const ask = async (key: string) => {
        const response = await second.yoga.fetch("http://keyport.test/graphql", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: "{ viewer { scopes workspace { slug } } }" }),
        });
        return response.json();
      };
      expect(await ask(first.adminKey)).toEqual({
        data: { viewer: { scopes: ["admin", "platform"], workspace: { slug: "default" } } },
      });
      expect(await ask(created.key)).toEqual({
        data: { viewer: { scopes: ["credentials:read"], workspace: { slug: "default" } } },
      });
    } finally {
      await second.close();
      await testDatabase.drop();
    }
  });

  it("bootstraps exactly once when several instances start on one empty database", async () => {
    const testDatabase = await createTestDatabase();
    if (!testDatabase.databaseUrl) {
      // Embedded PGlite is single-process; the race only exists on a shared PostgreSQL.
      const app = await startTestApp({ testDatabase });
      expect(dataOf(await app.execute(ViewerQuery)).viewer.workspace.slug).toBe("default");
      await app.close();
      return;
    }
    const databases = await Promise.all([1, 2, 3].map(() => testDatabase.open()));
    const instances = await Promise.all(
      databases.map((database) => createKeyport(testConfig(), { database, logSink: () => {} })),
    );
    try {
      expect(instances.filter((instance) => instance.bootstrap.created)).toHaveLength(1);
      expect(await databases[0]?.prisma.workspace.count()).toBe(1);
      expect(await databases[0]?.prisma.apiKey.count()).toBe(1);
    } finally {
      await Promise.all(instances.map((instance) => instance.close()));
      await testDatabase.drop();
    }
  });
});
