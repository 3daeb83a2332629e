// The provider catalog loader: the shipped files are valid, PROVIDERS_DIR adds and replaces
// entries, and a broken file stops the start with its name and the problem.

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/env.js";
import { parseConnectionConfig } from "../../src/modules/catalog/apply.js";
import { fillTemplate, loadCatalog } from "../../src/modules/catalog/catalog.js";
import { seedProviderKeys } from "../helpers/seed-providers.js";

const dirs: string[] = [];
async function providersDir(files: Record<string, string>) {
  const dir = await mkdtemp(path.join(os.tmpdir(), "keyport-catalog-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}
afterAll(async () => {
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error("expected the catalog to be refused");
}

describe("the shipped catalog", () => {
  const catalog = loadCatalog({});

  it("has the seed providers, each with auth kinds and a docs URL", () => {
    for (const key of seedProviderKeys) {
      const entry = catalog.get(key);
      expect(entry, key).not.toBeNull();
      expect(entry?.auth.length, key).toBeGreaterThan(0);
      expect(entry?.docsUrl, key).toMatch(/^https:\/\//);
    }
  });

  it("knows the quirks of the seed providers", () => {
    const amo = catalog.get("amocrm")?.auth.find((m) => m.kind === "OAUTH2");
    expect(amo).toMatchObject({
      tokenUrl: "https://{subdomain}.amocrm.ru/oauth2/access_token",
      singleUseRefreshTokens: true,
    });
    expect(catalog.get("notion")?.auth.find((m) => m.kind === "OAUTH2")).toMatchObject({
      tokensExpire: false,
    });
    expect(catalog.get("slack")?.scopes.separator).toBe(",");
    expect(catalog.get("linear")?.scopes.separator).toBe(",");
    expect(catalog.get("gmail")?.auth[0]).toMatchObject({
      authorizationParams: { access_type: "offline", prompt: "consent" },
    });
    expect(catalog.get("salesforce")?.auth[0]).toMatchObject({
      tokenResponse: { keep: expect.arrayContaining(["instance_url"]) },
    });
    expect(catalog.get("slack")?.auth[0]).toMatchObject({
      tokenResponse: { accountId: "team.id" },
    });
    expect(catalog.get("slack")?.verify).toMatchObject({
      expectJson: { path: "ok", equals: true },
    });
    expect(catalog.get("telegram")?.verify?.url).toBe("https://api.telegram.org/bot{token}/getMe");
    expect(catalog.get("zendesk")?.auth[0]).toMatchObject({ usernameFormat: "{username}/token" });
  });
});

describe("PROVIDERS_DIR", () => {
  it("adds entries and replaces a shipped one with the same key", async () => {
    const dir = await providersDir({
      "inhouse.yaml": "key: inhouse\nname: In-house API\nauth: [{ kind: BEARER }]\n",
      "slack.yml": "key: slack\nname: Slack (proxied)\nauth: [{ kind: BEARER }]\n",
    });
    const catalog = loadCatalog({ providersDir: dir });
    expect(catalog.get("inhouse")?.name).toBe("In-house API");
    expect(catalog.get("slack")).toMatchObject({
      name: "Slack (proxied)",
      auth: [{ kind: "BEARER" }],
    });
    expect(catalog.get("github")?.name).toBe("GitHub");
  });

  it("refuses a broken file, naming the file and every problem", async () => {
    const dir = await providersDir({
      "broken.yaml": [
        "key: broken",
        "name: Broken",
        "auth:",
        "  - kind: OAUTH2",
        "    authorizationUrl: not a url",
        "    tokenUrl: https://{tenant}.example.com/token",
        "verify: { url: 'https://{host}/me' }",
        "connectionVariables: [{ name: host, label: Host }]",
      ].join("\n"),
      "invalid.yaml": "key: [unclosed\n",
      "renamed.yaml": "key: other\nname: Other\nauth: [{ kind: BASIC }]\n",
      "nokinds.yaml": "key: nokinds\nname: No kinds\nauth: []\nsurprise: true\n",
    });
    const problems = problemsOf(() => loadCatalog({ providersDir: dir }));
    const text = problems.join("\n");
    expect(text).toContain(path.join(dir, "broken.yaml"));
    expect(text).toMatch(/broken\.yaml: auth\.0\.authorizationUrl: must be an absolute URL/);
    expect(text).toMatch(/broken\.yaml: auth\.0\.tokenUrl: uses \{tenant\}/);
    expect(text).toMatch(/broken\.yaml: verify\.url: must fix the host name/);
    expect(text).toMatch(/invalid\.yaml: not valid YAML/);
    expect(text).toMatch(/renamed\.yaml: key "other" must match the file name/);
    expect(text).toMatch(/nokinds\.yaml: auth: must name at least one auth kind/);
    expect(text).toMatch(/nokinds\.yaml: Unrecognized key/);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it("refuses a PROVIDERS_DIR that does not exist", () => {
    const problems = problemsOf(() =>
      loadCatalog({ providersDir: "/nonexistent/keyport-providers" }),
    );
    expect(problems.join("\n")).toContain("PROVIDERS_DIR");
  });
});

describe("connection variables", () => {
  const entry = loadCatalog({}).get("zendesk");

  it("accept a DNS label and refuse anything that could move the host", () => {
    expect(parseConnectionConfig({ subdomain: "acme" }, entry)).toEqual({
      config: { subdomain: "acme" },
      errors: [],
    });
    for (const value of ["evil.com#", "a/b", "x@y", "a.b", "a?b", ""]) {
      const { errors } = parseConnectionConfig({ subdomain: value }, entry);
      expect(errors.length, value).toBeGreaterThan(0);
    }
    expect(parseConnectionConfig([{ name: "subdomain", value: "acme" }], entry).config).toEqual({
      subdomain: "acme",
    });
  });

  it("are substituted URL-encoded, with a Telegram token's colon kept", () => {
    expect(fillTemplate("https://{subdomain}.zendesk.com/api", { subdomain: "acme" }).value).toBe(
      "https://acme.zendesk.com/api",
    );
    expect(
      fillTemplate("https://api.telegram.org/bot{token}/getMe", { token: "1:a/b" }).value,
    ).toBe("https://api.telegram.org/bot1:a%2Fb/getMe");
    expect(fillTemplate("https://{subdomain}.x/", {}).missing).toEqual(["subdomain"]);
  });
});
