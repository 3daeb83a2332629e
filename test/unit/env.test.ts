import { describe, expect, it } from "vitest";
import { ConfigError, parseEnv } from "../../src/env.js";

const validKey = "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

function problemsOf(env: Record<string, string>): string[] {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("parseEnv", () => {
  it("applies the documented defaults", () => {
    const config = parseEnv({});
    expect(config).toMatchObject({
      port: 4000,
      host: "127.0.0.1",
      databaseUrl: undefined,
      redisUrl: undefined,
      publicUrl: "http://localhost:4000",
      production: false,
    });
    expect(config.dataDir.endsWith(".data")).toBe(true);
    expect(parseEnv({ PORT: "8080" }).publicUrl).toBe("http://localhost:8080");
  });

  it("collects every problem at once", () => {
    const problems = problemsOf({
      PORT: "abc",
      DATABASE_URL: "postgresql://db.internal:5432/keyport",
      REDIS_URL: "localhost:6379",
      PUBLIC_URL: "ftp://x",
      AUTH_JWT_SECRET: "short",
      LOG_LEVEL: "loud",
    });
    expect(problems).toHaveLength(6);
    expect(problems.join("\n")).toMatch(/PORT must be a number/);
    expect(problems.join("\n")).toMatch(/ENCRYPTION_KEYS is required when DATABASE_URL is set/);
    for (const name of ["REDIS_URL", "PUBLIC_URL", "AUTH_JWT_SECRET", "LOG_LEVEL"]) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
  });

  it("rejects ports out of range and malformed database URLs", () => {
    expect(problemsOf({ PORT: "70000" })).toEqual(["PORT must be between 0 and 65535"]);
    expect(problemsOf({ DATABASE_URL: "mysql://x", ENCRYPTION_KEYS: validKey })).toEqual([
      "DATABASE_URL must be a postgres:// or postgresql:// URL",
    ]);
  });

  it("checks ENCRYPTION_KEYS without echoing key material", () => {
    const problems = problemsOf({ ENCRYPTION_KEYS: "k1:c2VjcmV0LW1hdGVyaWFs" });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join("\n")).not.toContain("c2VjcmV0LW1hdGVyaWFs");
    expect(problemsOf({ ENCRYPTION_KEYS: validKey, DATABASE_URL: "postgresql://h/db" })).toEqual(
      [],
    );
  });

  it("refuses both a JWT secret and a JWKS URL", () => {
    expect(
      problemsOf({ AUTH_JWT_SECRET: "x".repeat(32), AUTH_JWKS_URL: "https://idp.test/jwks" }),
    ).toEqual(["AUTH_JWT_SECRET and AUTH_JWKS_URL: set one of them, not both"]);
  });

  it("turns on production mode only for NODE_ENV=production", () => {
    expect(parseEnv({ NODE_ENV: "production" }).production).toBe(true);
    expect(parseEnv({ NODE_ENV: "development" }).production).toBe(false);
  });
});
