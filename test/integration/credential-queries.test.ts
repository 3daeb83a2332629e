// Listing runs a constant number of SQL statements whatever the page size (no N+1).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import { CredentialListQuery, CredentialsQuery } from "../helpers/credential-documents.js";
import { createCredential, createKey } from "../helpers/credentials.js";

describe("credential listing", () => {
  let app: TestApp;
  let statements: string[] = [];
  let reader: string;
  beforeAll(async () => {
    app = await startTestApp({ onQuery: (sql) => statements.push(sql) });
    const writer = await createKey(app, ["credentials:read", "credentials:write"]);
    reader = await createKey(app, ["credentials:read"]);
    const kinds = [
      { bearer: { token: "list-token-value" } },
      { basic: { username: "u", password: "list-password-value" } },
      {
        oauth2: {
          clientId: "c",
          authorizationUrl: "https://a.example/a",
          tokenUrl: "https://a.example/t",
        },
      },
      {
        verify: false,
        clientCredentials: {
          clientId: "c",
          clientSecret: "list-cc-value",
          tokenUrl: "https://a.example/t",
        },
      },
    ];
    for (let i = 0; i < 100; i++) {
      await createCredential(
        app,
        { name: `listed ${String(i).padStart(3, "0")}`, providerKey: `p${i % 7}`, ...kinds[i % 4] },
        writer,
      );
    }
  }, 120_000);
  afterAll(() => app.close());

  async function countStatements<T>(run: () => Promise<T>) {
    statements = [];
    const result = await run();
    return { result, count: statements.length };
  }

  it("lists 10 or 100 credentials with environment and provider key in the same number of statements", async () => {
    const small = await countStatements(() => app.execute(CredentialListQuery, { first: 10 }));
    const large = await countStatements(() => app.execute(CredentialListQuery, { first: 100 }));
    expect(dataOf(small.result).credentials.edges).toHaveLength(10);
    const edges = dataOf(large.result).credentials.edges;
    expect(edges).toHaveLength(100);
    expect(edges[42]?.node).toMatchObject({
      providerKey: "p0",
      environment: { slug: "development" },
    });
    expect(large.count).toBe(small.count);
    expect(large.count).toBeLessThanOrEqual(5);
  });

  it("also stays constant with every kind's fields and secret summaries", async () => {
    // A reader: secret values (each read decrypted and audited) are not part of a listing.
    // The first request also records the key's lastUsedAt; keep that out of the count.
    await app.execute(CredentialListQuery, { first: 1 }, { key: reader });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const small = await countStatements(() =>
      app.execute(CredentialsQuery, { first: 10 }, { key: reader }),
    );
    const large = await countStatements(() =>
      app.execute(CredentialsQuery, { first: 100 }, { key: reader }),
    );
    expect(dataOf(large.result).credentials.edges).toHaveLength(100);
    expect(large.count).toBe(small.count);
  });

  it("caps a page at 100", async () => {
    const page = dataOf(await app.execute(CredentialListQuery, { first: 500 })).credentials;
    expect(page.edges).toHaveLength(100);
  });
});
