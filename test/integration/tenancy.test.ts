import { encodeGlobalID } from "@pothos/plugin-relay";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataOf, errorCodes, startTestApp, type TestApp } from "../helpers/app.js";
import {
  CreateApiKeyMutation,
  CreateEnvironmentMutation,
  CreateWorkspaceMutation,
  NodeQuery,
  RevokeApiKeyMutation,
  ViewerQuery,
} from "../helpers/documents.js";

describe("workspaces and tenancy", () => {
  let app: TestApp;
  let keyB: string;
  beforeAll(async () => {
    app = await startTestApp();
    const created = dataOf(
      await app.execute(CreateWorkspaceMutation, { input: { slug: "acme", name: "Acme" } }),
    ).createWorkspace;
    if (created.__typename !== "CreateWorkspaceSuccess") throw new Error("createWorkspace failed");
    expect(created.workspace.environments.map((e) => e.slug)).toEqual([
      "development",
      "production",
    ]);
    keyB = created.adminApiKey;
  });
  afterAll(() => app.close());

  it("gives a new workspace its own admin key, without platform", async () => {
    const { viewer } = dataOf(await app.execute(ViewerQuery, undefined, { key: keyB }));
    expect(viewer.workspace.slug).toBe("acme");
    expect(viewer.scopes).toEqual(["admin"]);
    const attempt = await app.execute(
      CreateWorkspaceMutation,
      { input: { slug: "other", name: "Other" } },
      { key: keyB },
    );
    expect(errorCodes(attempt)).toEqual(["FORBIDDEN"]);
  });

  it("answers a node of another workspace exactly like an id that never existed", async () => {
    const a = dataOf(await app.execute(ViewerQuery)).viewer.workspace;
    const keyOfA = dataOf(
      await app.execute(CreateApiKeyMutation, {
        input: { name: "a key", scopes: ["credentials:read"] },
      }),
    ).createApiKey;
    if (keyOfA.__typename !== "CreateApiKeySuccess") throw new Error("createApiKey failed");

    // A's own key sees its nodes.
    for (const id of [a.id, a.environments[0]?.id ?? "", keyOfA.apiKey.id]) {
      expect(dataOf(await app.execute(NodeQuery, { id })).node?.id).toBe(id);
    }
    const missing = [
      encodeGlobalID("Workspace", "01900000-0000-7000-8000-000000000000"),
      encodeGlobalID("Environment", "01900000-0000-7000-8000-000000000000"),
      encodeGlobalID("ApiKey", "01900000-0000-7000-8000-000000000000"),
    ];
    const foreign = [a.id, a.environments[0]?.id ?? "", keyOfA.apiKey.id];
    const answers = async (ids: string[]) =>
      Promise.all(
        ids.map(async (id) => JSON.stringify(await app.execute(NodeQuery, { id }, { key: keyB }))),
      );
    expect(await answers(foreign)).toEqual(await answers(missing));
    expect(await answers(foreign)).toEqual(Array(3).fill(JSON.stringify({ data: { node: null } })));

    // Mutations on a foreign id behave as on a missing one, too.
    const revokeForeign = dataOf(
      await app.execute(RevokeApiKeyMutation, { input: { id: keyOfA.apiKey.id } }, { key: keyB }),
    );
    const revokeMissing = dataOf(
      await app.execute(RevokeApiKeyMutation, { input: { id: missing[2] ?? "" } }, { key: keyB }),
    );
    expect(revokeForeign).toEqual(revokeMissing);
    expect(revokeForeign.revokeApiKey.__typename).toBe("NotFoundError");
    expect(
      dataOf(await app.execute(ViewerQuery, undefined, { key: keyOfA.key })).viewer,
    ).toBeTruthy();
  });

  it("refuses an API key limited to another workspace's environment", async () => {
    const a = dataOf(await app.execute(ViewerQuery)).viewer.workspace;
    const result = dataOf(
      await app.execute(
        CreateApiKeyMutation,
        {
          input: { name: "x", scopes: ["credentials:read"], environmentId: a.environments[0]?.id },
        },
        { key: keyB },
      ),
    ).createApiKey;
    expect(result).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "environmentId"] }],
    });
  });

  it("creates environments with unique slugs per workspace", async () => {
    const created = dataOf(
      await app.execute(CreateEnvironmentMutation, { input: { slug: "staging", name: "Staging" } }),
    ).createEnvironment;
    expect(created).toMatchObject({
      __typename: "CreateEnvironmentSuccess",
      environment: { slug: "staging" },
    });
    const again = dataOf(
      await app.execute(CreateEnvironmentMutation, { input: { slug: "staging", name: "Again" } }),
    ).createEnvironment;
    expect(again).toMatchObject({
      __typename: "ValidationError",
      fieldErrors: [{ path: ["input", "slug"] }],
    });
    // The same slug is free in another workspace.
    const elsewhere = dataOf(
      await app.execute(
        CreateEnvironmentMutation,
        { input: { slug: "staging", name: "Staging" } },
        { key: keyB },
      ),
    ).createEnvironment;
    expect(elsewhere.__typename).toBe("CreateEnvironmentSuccess");
    const slugs = dataOf(await app.execute(ViewerQuery)).viewer.workspace.environments.map(
      (e) => e.slug,
    );
    expect(slugs).toEqual(["development", "production", "staging"]);
  });

  it("limits a key to its environment when asked", async () => {
    const { environments } = dataOf(await app.execute(ViewerQuery)).viewer.workspace;
    const production = environments.find((e) => e.slug === "production");
    const result = dataOf(
      await app.execute(CreateApiKeyMutation, {
        input: { name: "prod only", scopes: ["credentials:read"], environmentId: production?.id },
      }),
    ).createApiKey;
    expect(result).toMatchObject({
      __typename: "CreateApiKeySuccess",
      apiKey: { environment: { slug: "production" } },
    });
  });
});
