// Finding: errors echoed input — a variable coercion error printed the whole input object,
// password included; malformed JSON echoed the body; database errors were logged with their full
// Prisma arguments. Canaries planted in the inputs must appear in no response and no log line.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../../src/db.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import { environmentIds } from "../helpers/credentials.js";

const canary = () => `CANARY${randomBytes(12).toString("hex")}`;

describe("errors never echo input values", () => {
  let app: TestApp;
  let development: string;
  const canaries: string[] = [];
  const plant = () => {
    const value = canary();
    canaries.push(value);
    return value;
  };
  const post = (body: string, key: string | null = app.adminKey) =>
    app.request("/graphql", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        ...(key ? { authorization: `Bearer ${key}` } : {}),
      },
      body,
    });

  beforeAll(async () => {
    app = await startTestApp({ env: { LOG_LEVEL: "debug" } });
    development = (await environmentIds(app)).development as string;
  });
  afterAll(async () => {
    // No planted value reached any log line.
    const logs = app.logs.join("\n");
    for (const value of canaries) expect(logs).not.toContain(value);
    await app.close();
  });

  it("names the path of an unknown input field, not the object holding the password", async () => {
    const password = plant();
    const response = await post(
      JSON.stringify({
        query:
          "mutation($input: CreateCredentialInput!) { createCredential(input: $input) { __typename } }",
        variables: {
          input: {
            name: "echo",
            environmentId: development,
            basic: { username: "user", password, unknownField: true },
          },
        },
      }),
    );
    const text = await response.text();
    expect(text).not.toContain(password);
    const { errors } = JSON.parse(text) as { errors: { message: string }[] };
    expect(errors[0]?.message).toBe(
      'Variable "$input" got an invalid value at "input.basic": Field "unknownField" is not defined by type "BasicCredentialInput".',
    );
  });

  it("words scalar, enum and literal errors without the value", async () => {
    const value = plant();
    const cases = [
      {
        query:
          "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }",
        variables: { input: { name: { nested: value }, scopes: ["admin"] } },
      },
      {
        query:
          "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }",
        variables: { input: { name: "k", scopes: ["admin"], environmentId: { value } } },
      },
      {
        query: `mutation { createApiKey(input: { name: 5, scopes: ["${value}"] }) { __typename } }`,
      },
      {
        query: `mutation { createApiKey(input: { name: "${value}", nope: ${value} }) { __typename } }`,
      },
      { query: `{ viewer(unknown: "${value}") { scopes } }` },
      { query: `{ viewer { scopes } "${value}` },
      { query: `query { credential(id: ${value}) { __typename } }` },
    ];
    for (const body of cases) {
      const text = await (await post(JSON.stringify(body))).text();
      expect(text).not.toContain(value);
      expect(JSON.parse(text).errors.length).toBeGreaterThan(0);
    }
  });

  it("answers malformed JSON with a fixed message", async () => {
    const secret = plant();
    for (const body of [`{"query": "${secret}`, `{"password": ${secret}}`, `${secret}`]) {
      for (const key of [app.adminKey, null]) {
        const response = await post(body, key);
        expect(response.status).toBe(400);
        const text = await response.text();
        expect(text).not.toContain(secret);
        expect(JSON.parse(text).errors[0].message).toBe("The request body is not valid JSON.");
      }
    }
  });

  it("logs database errors without the query arguments", async () => {
    const name = plant();
    const apiKey = plant();
    // A real Prisma error whose message prints its arguments (the invalid date among them).
    const prismaError = await app.database.prisma.credential
      .create({
        data: {
          id: plant(),
          name,
          kind: "BEARER",
          status: "ACTIVE",
          settings: { tokenUrl: `https://tokens.example.test/?api_key=${apiKey}` },
          expiresAt: new Date(Number.NaN),
          workspace: { connect: { id: "nope" } },
          environment: { connect: { id: "nope" } },
        },
      })
      .then(
        () => null,
        (error: unknown) => error as Error,
      );
    expect(prismaError).toBeInstanceOf(Error);
    expect(String(prismaError?.message)).toContain(apiKey);

    // Every credential read fails with it, as a database failure would.
    const services = app.keyport.services;
    const real = services.db;
    const failing = new Proxy(real.prisma, {
      get(target, property, receiver) {
        if (property === "credential") {
          return new Proxy(Reflect.get(target, property, receiver), {
            get: () => () => Promise.reject(prismaError),
          });
        }
        return Reflect.get(target, property, receiver);
      },
    });
    services.db = new Proxy(real, {
      get: (target, property) => (property === "prisma" ? failing : Reflect.get(target, property)),
    }) as Database;
    try {
      const response = await post(
        JSON.stringify({ query: "{ credentials(first: 1) { edges { cursor } } }" }),
      );
      const text = await response.text();
      expect(text).not.toContain(apiKey);
      expect(JSON.parse(text).errors[0].message).toBe("Unexpected error.");
    } finally {
      services.db = real;
    }
    services.logger.error("direct", { error: prismaError });
    const lines = app.logs.filter((line) => line.includes("PrismaClient"));
    expect(lines.length).toBeGreaterThanOrEqual(2);
    for (const line of lines) {
      expect(line).not.toContain(apiKey);
      expect(line).not.toContain(name);
      expect(line).not.toContain("api_key");
    }
  });
});
