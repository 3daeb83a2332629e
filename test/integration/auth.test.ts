import { SignJWT, UnsecuredJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import {
  ApiKeysQuery,
  CreateApiKeyMutation,
  RevokeApiKeyMutation,
  ViewerQuery,
} from "../helpers/documents.js";

const jwtSecret = new TextEncoder().encode("test-jwt-secret-that-is-long-enough-0123456789");
const issuer = "https://issuer.keyport.test";

async function jwt(
  claims: Record<string, unknown>,
  options: {
    audience?: string;
    issuer?: string;
    expiresIn?: string | null;
    secret?: Uint8Array;
  } = {},
) {
  const token = new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt()
    .setSubject("user-42")
    .setIssuer(options.issuer ?? issuer)
    .setAudience(options.audience ?? "keyport");
  if (options.expiresIn !== null) token.setExpirationTime(options.expiresIn ?? "5m");
  return token.sign(options.secret ?? jwtSecret);
}

describe("callers", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  async function createKey(scopes: string[], key = app.adminKey) {
    const result = dataOf(
      await app.execute(CreateApiKeyMutation, { input: { name: "test key", scopes } }, { key }),
    );
    if (result.createApiKey.__typename !== "CreateApiKeySuccess") {
      throw new Error(`createApiKey failed: ${JSON.stringify(result.createApiKey)}`);
    }
    return result.createApiKey;
  }

  it("answers the bootstrap key with the default workspace and its environments", async () => {
    const { viewer } = dataOf(await app.execute(ViewerQuery));
    expect(viewer.scopes).toEqual(["admin", "platform"]);
    expect(viewer.workspace.slug).toBe("default");
    expect(viewer.workspace.environments.map((e) => e.slug)).toEqual(["development", "production"]);
  });

  it("refuses requests without, or with a bad, credential as UNAUTHENTICATED", async () => {
    for (const key of [null, "kp_notarealkeynotarealkeynotarealkeynotarealk", "garbage"]) {
      const result = await app.execute(ViewerQuery, undefined, { key });
      expect(result.data ?? null).toBeNull();
      expect(errorCodes(result)).toEqual(["UNAUTHENTICATED"]);
    }
    const malformed = await app.execute(ViewerQuery, undefined, {
      key: null,
      headers: { authorization: "Basic dXNlcjpwYXNz" },
    });
    expect(errorCodes(malformed)).toEqual(["UNAUTHENTICATED"]);
  });

  it("creates keys shown once, stored only as a hash, limited to the creator's scopes", async () => {
    const created = await createKey(["credentials:read"]);
    expect(created.key).toMatch(/^kp_[A-Za-z0-9_-]{43}$/);
    expect(created.key.startsWith(created.apiKey.prefix)).toBe(true);
    const rows = await app.database.prisma.apiKey.findMany();
    expect(JSON.stringify(rows)).not.toContain(created.key);

    const { viewer } = dataOf(await app.execute(ViewerQuery, undefined, { key: created.key }));
    expect(viewer.scopes).toEqual(["credentials:read"]);

    const listed = dataOf(await app.execute(ApiKeysQuery, { first: 50 }));
    const names = listed.viewer.workspace.apiKeys.edges.map((e) => e.node.prefix);
    expect(names).toContain(created.apiKey.prefix);
    expect(JSON.stringify(listed)).not.toContain(created.key);
  });

  it("refuses createApiKey to a key holding only credentials:read with FORBIDDEN", async () => {
    const reader = await createKey(["credentials:read"]);
    const result = await app.execute(
      CreateApiKeyMutation,
      { input: { name: "escalate", scopes: ["admin"] } },
      { key: reader.key },
    );
    expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
    const listing = await app.execute(ApiKeysQuery, { first: 5 }, { key: reader.key });
    expect(errorCodes(listing)).toEqual(["FORBIDDEN"]);
  });

  it("never lets a key grant a scope its creator lacks", async () => {
    const admin = await createKey(["admin"]);
    const result = dataOf(
      await app.execute(
        CreateApiKeyMutation,
        { input: { name: "operator", scopes: ["platform"] } },
        { key: admin.key },
      ),
    );
    expect(result.createApiKey).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "scopes", "0"] }],
    });
  });

  it("stops a revoked key on the very next request", async () => {
    const victim = await createKey(["credentials:read"]);
    expect(
      dataOf(await app.execute(ViewerQuery, undefined, { key: victim.key })).viewer,
    ).toBeTruthy();
    const revoked = dataOf(
      await app.execute(RevokeApiKeyMutation, { input: { id: victim.apiKey.id } }),
    );
    expect(revoked.revokeApiKey.__typename).toBe("RevokeApiKeySuccess");
    const after = await app.execute(ViewerQuery, undefined, { key: victim.key });
    expect(errorCodes(after)).toEqual(["UNAUTHENTICATED"]);
  });

  it("records when a key was last used", async () => {
    const user = await createKey(["credentials:read"]);
    await app.execute(ViewerQuery, undefined, { key: user.key });
    await expect
      .poll(async () => {
        const row = await app.database.prisma.apiKey.findFirst({
          where: { prefix: user.apiKey.prefix },
        });
        return row?.lastUsedAt;
      })
      .toBeInstanceOf(Date);
  });

  describe("JWT callers", () => {
    it("accepts a valid HS256 token with workspace and scope claims", async () => {
      const token = await jwt({ workspace: "default", scope: "credentials:read connectors:read" });
      const { viewer } = dataOf(await app.execute(ViewerQuery, undefined, { key: token }));
      expect(viewer.subject).toBe("user-42");
      expect(viewer.scopes).toEqual(["credentials:read", "connectors:read"]);
      expect(viewer.workspace.slug).toBe("default");
    });

    it("refuses a JWT-scoped reader access to admin fields with FORBIDDEN", async () => {
      const token = await jwt({ workspace: "default", scope: "credentials:read" });
      const result = await app.execute(
        CreateApiKeyMutation,
        { input: { name: "x", scopes: ["credentials:read"] } },
        { key: token },
      );
      expect(errorCodes(result)).toEqual(["FORBIDDEN"]);
    });

    const rejected: [string, () => Promise<string>][] = [
      [
        "a wrong audience",
        () => jwt({ workspace: "default", scope: "admin" }, { audience: "other" }),
      ],
      [
        "a wrong issuer",
        () => jwt({ workspace: "default", scope: "admin" }, { issuer: "https://evil.test" }),
      ],
      [
        "an expired token",
        () => jwt({ workspace: "default", scope: "admin" }, { expiresIn: "-5m" }),
      ],
      ["no exp claim", () => jwt({ workspace: "default", scope: "admin" }, { expiresIn: null })],
      [
        "another signing secret",
        () =>
          jwt(
            { workspace: "default", scope: "admin" },
            { secret: new TextEncoder().encode("another-secret-that-is-long-enough-000000000") },
          ),
      ],
      ["an unknown workspace", () => jwt({ workspace: "nowhere", scope: "admin" })],
      ["a missing workspace claim", () => jwt({ scope: "admin" })],
      [
        "alg none",
        async () =>
          new UnsecuredJWT({ workspace: "default", scope: "admin platform" })
            .setIssuer(issuer)
            .setAudience("keyport")
            .setSubject("attacker")
            .setExpirationTime("5m")
            .encode(),
      ],
    ];
    for (const [name, makeToken] of rejected) {
      it(`refuses ${name} as UNAUTHENTICATED`, async () => {
        const result = await app.execute(ViewerQuery, undefined, { key: await makeToken() });
        expect(result.data ?? null).toBeNull();
        expect(errorCodes(result)).toEqual(["UNAUTHENTICATED"]);
      });
    }
  });
});
