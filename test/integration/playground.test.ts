// The playground page itself, without a browser (test/e2e/graphiql.test.ts drives it in one).
import { parse, validate } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { playgroundDocument } from "../../src/lib/playground.js";
import { schema } from "../../src/schema/index.js";
import { startTestApp, type TestApp } from "../helpers/app.js";

/** The commented mutation at the end of the example, as a user uncomments it. */
function uncommentedMutation(credentialId: string) {
  return playgroundDocument
    .slice(playgroundDocument.indexOf("# mutation AcquireHeaders"))
    .replace(/^# ?/gm, "")
    .replace("<credential id>", credentialId);
}

describe("GraphiQL playground page", () => {
  let app: TestApp;
  let html: string;
  beforeAll(async () => {
    app = await startTestApp();
    const page = await app.request("/graphql", { headers: { accept: "text/html" } });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    html = await page.text();
  });
  afterAll(() => app.close());

  it("loads nothing from elsewhere: no script, style, icon or import from another host", () => {
    expect(html).toContain("<title>keyport playground</title>");
    expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?\s*(?:https?:)?\/\//i);
    expect(html).not.toMatch(/url\(\s*["']?(?:https?:)?\/\//i);
    expect(html).not.toMatch(/@import/i);
    expect(html).not.toContain("unpkg.com");
  });

  it("does not persist headers", () => {
    expect(html).toContain('"shouldPersistHeaders":false');
  });

  it("opens with an example that is valid against the schema, and runs", async () => {
    expect(html).toContain(JSON.stringify(playgroundDocument));
    expect(validate(schema, parse(playgroundDocument))).toEqual([]);
    expect(validate(schema, parse(uncommentedMutation("some-id")))).toEqual([]);
    const response = await app.request("/graphql", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${app.adminKey}` },
      body: JSON.stringify({ query: playgroundDocument }),
    });
    const result = (await response.json()) as { data?: { viewer: unknown }; errors?: unknown };
    expect(result.errors).toBeUndefined();
    expect(result.data?.viewer).toMatchObject({ workspace: { slug: "default" } });
  });

  it("is not served in production", async () => {
    const production = await startTestApp({ env: { NODE_ENV: "production" } });
    try {
      const page = await production.request("/graphql", { headers: { accept: "text/html" } });
      expect(page.headers.get("content-type") ?? "").not.toMatch(/text\/html/);
      expect(await page.text()).not.toContain("keyport playground");
    } finally {
      await production.close();
    }
  });
});
