import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  CreateApiKeyMutation,
  CreateEnvironmentMutation,
  CreateWorkspaceMutation,
  NodeQuery,
  RevokeApiKeyMutation,
} from "../helpers/documents.js";

describe("bad input", () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp();
  });
  afterAll(() => app.close());

  const counts = async () => ({
    keys: await app.database.prisma.apiKey.count(),
    workspaces: await app.database.prisma.workspace.count(),
    environments: await app.database.prisma.environment.count(),
  });

  it("answers malformed ids in queries with null, like any missing node", async () => {
    for (const id of ["", "!!!", "bm90LWFuLWlk", encodeGlobalID("Nope", "1"), "a".repeat(10_000)]) {
      expect(dataOf(await app.execute(NodeQuery, { id }))).toEqual({ node: null });
    }
  });

  it("reports malformed or mistyped ids in mutations on the field", async () => {
    const before = await counts();
    const envId = encodeGlobalID("Environment", "whatever");
    for (const id of ["garbage", envId]) {
      const result = dataOf(
        await app.execute(RevokeApiKeyMutation, { input: { id } }),
      ).revokeApiKey;
      expect(result).toMatchObject({
        __typename: "ValidationError",
        fieldErrors: [{ path: ["input", "id"], message: "is not a valid ApiKey id" }],
      });
    }
    expect(await counts()).toEqual(before);
  });

  it("rejects names over 200 characters, empty names and unknown scopes, storing nothing", async () => {
    const before = await counts();
    const cases = [
      { input: { name: "x".repeat(201), scopes: ["credentials:read"] }, path: ["input", "name"] },
      {
        input: { name: "x".repeat(10_000), scopes: ["credentials:read"] },
        path: ["input", "name"],
      },
      { input: { name: "   ", scopes: ["credentials:read"] }, path: ["input", "name"] },
      {
        input: { name: "ok", scopes: ["credentials:read", "root"] },
        path: ["input", "scopes", "1"],
      },
      { input: { name: "ok", scopes: [] }, path: ["input", "scopes"] },
    ];
    for (const { input, path } of cases) {
      const result = dataOf(await app.execute(CreateApiKeyMutation, { input })).createApiKey;
      expect(result.__typename).toBe("ValidationError");
      if (result.__typename === "ValidationError") {
        expect(result.fieldErrors.map((e) => e.path)).toContainEqual(path);
        // The oversized value is not echoed back.
        expect(JSON.stringify(result)).not.toContain("x".repeat(201));
      }
    }
    const badWorkspace = dataOf(
      await app.execute(CreateWorkspaceMutation, { input: { slug: "Not A Slug!", name: "" } }),
    ).createWorkspace;
    expect(
      badWorkspace.__typename === "ValidationError" && badWorkspace.fieldErrors.map((e) => e.path),
    ).toEqual([
      ["input", "slug"],
      ["input", "name"],
    ]);
    const taken = dataOf(
      await app.execute(CreateEnvironmentMutation, {
        input: { slug: "production", name: "Again" },
      }),
    ).createEnvironment;
    expect(taken.__typename).toBe("ValidationError");
    expect(await counts()).toEqual(before);
  });

  it("rejects values of the wrong type before anything runs", async () => {
    const before = await counts();
    const response = await app.request("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
      body: JSON.stringify({
        query:
          "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { __typename } }",
        variables: { input: { name: 42, scopes: "admin", unknownField: true } },
      }),
    });
    const body = (await response.json()) as { data?: unknown; errors: { message: string }[] };
    expect(body.data).toBeUndefined();
    expect(body.errors.length).toBeGreaterThan(0);
    expect(body.errors[0]?.message).toMatch(/input/);
    expect(await counts()).toEqual(before);
  });

  it("survives garbage request bodies with a client error", async () => {
    for (const body of ["{", "null", "[]", JSON.stringify({ query: 5 })]) {
      const response = await app.request("/graphql", {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
        body,
      });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    }
  });
});
