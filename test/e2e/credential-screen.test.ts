// The reference credential screen (examples/credential-screen) in headless Chromium, against a
// listening keyport and a real authorization server (oidc-provider) on loopback. It is built
// with vite and served from its own origin, which keyport's ALLOWED_ORIGINS lists; it gets a
// connect token in the URL fragment. The OAuth 2.0 credential is created through a provider
// form built from the catalog (an operator's PROVIDERS_DIR entry pointing at the authorization
// server); an API key through a custom (kind) form. Screenshots of each step go to test-results/.
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { graphql } from "../generated/index.js";
import { dataOf, startTestApp, type TestApp } from "../helpers/app.js";
import {
  launchBrowser,
  type RequestLog,
  recordRequests,
  saveScreenshot,
} from "../helpers/browser.js";
import { CredentialQuery, RotateCredentialMutation } from "../helpers/credential-documents.js";
import { createCredential, environmentIds } from "../helpers/credentials.js";
import { type OidcServer, startOidcServer } from "../helpers/oidc-server.js";

const exampleDir = path.resolve(import.meta.dirname, "../../examples/credential-screen");
const clientSecret = `canary-client-secret-${randomBytes(6).toString("hex")}`;
const shots: string[] = [];
// The page changes on its own (events arrive over the WebSocket): wait for what the user sees.
const until = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 20_000 });

const CreateConnectSessionMutation = graphql(`
  mutation ScreenTestConnectSession($input: CreateConnectSessionInput!) {
    createConnectSession(input: $input) {
      __typename
      ... on CreateConnectSessionSuccess {
        token
      }
      ... on Error {
        message
      }
    }
  }
`);

const CredentialsByNameQuery = graphql(`
  query ScreenTestCredentials($filter: CredentialFilter) {
    credentials(first: 10, filter: $filter) {
      edges {
        node {
          id
          name
          status
          externalUserId
        }
      }
    }
  }
`);

/** A port nobody listens on right now (keyport's PUBLIC_URL must be known before it starts). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Serves the built app; unknown paths get index.html. */
async function serveStatic(root: string): Promise<{ origin: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? "/", "http://app").pathname);
    let file = path.join(root, path.normalize(pathname));
    if (!file.startsWith(root) || !(await stat(file).catch(() => null))?.isFile()) {
      file = path.join(root, "index.html");
    }
    res.writeHead(200, {
      "content-type": contentTypes[path.extname(file)] ?? "application/octet-stream",
    });
    res.end(await readFile(file));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function shot(page: Page, name: string) {
  const file = await saveScreenshot(page, `credential-screen-${name}`);
  shots.push(file);
  console.log(`screenshot: ${file}`);
}

const closeServer = (server: Server | undefined) =>
  new Promise<void>((resolve) => {
    if (!server) return resolve();
    server.closeAllConnections();
    server.close(() => resolve());
  });

describe("the reference credential screen", () => {
  let oidc: OidcServer;
  let app: TestApp;
  let keyportServer: Server;
  let appServer: Server;
  let appOrigin: string;
  let keyportUrl: string;
  let outDir: string;
  let browser: Browser;
  let context: BrowserContext;
  let requests: RequestLog;
  let page: Page;
  let token: string;
  let environmentId: string;
  let providersDir: string;

  /** A connect token for user-42, limited to the given providers (none: any provider). */
  async function connectToken(providerKeys: string[]): Promise<string> {
    const created = dataOf(
      await app.execute(CreateConnectSessionMutation, {
        input: { environmentId, externalUserId: "user-42", ttlSeconds: 600, providerKeys },
      }),
    ).createConnectSession;
    if (created.__typename !== "CreateConnectSessionSuccess") {
      throw new Error(JSON.stringify(created));
    }
    expect(created.token).toMatch(/^kpcs_/);
    return created.token;
  }

  beforeAll(async () => {
    outDir = path.join(tmpdir(), `credential-screen-${randomBytes(4).toString("hex")}`);
    // vitest sets NODE_ENV=test; the app is built as `npm run example:build` builds it.
    const nodeEnv = process.env.NODE_ENV;
    process.env.NODE_ENV = "production";
    try {
      await build({
        configFile: path.join(exampleDir, "vite.config.ts"),
        root: exampleDir,
        logLevel: "warn",
        build: { outDir, emptyOutDir: true },
      });
    } finally {
      process.env.NODE_ENV = nodeEnv;
    }
    ({ origin: appOrigin, server: appServer } = await serveStatic(outDir));

    keyportUrl = `http://127.0.0.1:${await freePort()}`;
    oidc = await startOidcServer({
      clients: [
        { clientId: "screen", clientSecret, redirectUris: [`${keyportUrl}/oauth/callback`] },
      ],
      scopes: ["read"],
    });
    // The operator's catalog entry for the authorization server: the screen builds its form
    // from it, and keyport fills in the endpoints and scopes.
    providersDir = await mkdtemp(path.join(tmpdir(), "credential-screen-providers-"));
    await writeFile(
      path.join(providersDir, "loopback-id.yaml"),
      `key: loopback-id
name: Loopback ID
description: The test authorization server.
auth:
  - kind: OAUTH2
    authorizationUrl: ${oidc.authorizationUrl}
    tokenUrl: ${oidc.tokenUrl}
    revocationUrl: ${oidc.revocationUrl}
    fields:
      - name: clientId
        label: Client ID
        pattern: "^[a-z0-9-]+$"
        example: my-client
        description: From the app registration.
      - { name: clientSecret, label: Client secret, type: password, secret: true }
scopes:
  default: [openid, read]
  required: [read]
`,
    );
    app = await startTestApp({
      env: { PUBLIC_URL: keyportUrl, ALLOWED_ORIGINS: appOrigin, PROVIDERS_DIR: providersDir },
    });
    keyportServer = app.keyport.createHttpServer();
    await new Promise<void>((resolve, reject) => {
      keyportServer.once("error", reject);
      keyportServer.listen(Number(new URL(keyportUrl).port), "127.0.0.1", resolve);
    });

    // The app's backend: a connect session for one end user. Another user's credential exists
    // in the same environment; the screen must never show it.
    environmentId = (await environmentIds(app)).development ?? "";
    await createCredential(app, {
      name: "Someone else's",
      externalUserId: "user-7",
      environmentId,
      bearer: { token: `canary-other-user-token-${randomBytes(6).toString("hex")}` },
      verify: false,
    });
    // The screen's first session may only connect the catalog's Loopback ID.
    token = await connectToken(["loopback-id"]);

    browser = await launchBrowser();
    context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    requests = await recordRequests(context);
    page = await context.newPage();
    page.on("console", (message) => console.log(`page: ${message.text()}`));
    page.on("pageerror", (error) => console.log(`page error: ${error.message}`));
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await closeServer(keyportServer);
    await app?.close();
    await oidc?.close();
    await closeServer(appServer);
    if (outDir) await rm(outDir, { recursive: true, force: true });
    if (providersDir) await rm(providersDir, { recursive: true, force: true });
    console.log(`credential screen screenshots:\n${shots.join("\n")}`);
  });

  const row = (name: string) => page.locator(`[data-testid=credential][data-name="${name}"]`);

  it("opens with the connect token from the URL fragment, keeps it out of storage and the address bar, and goes live", async () => {
    await page.goto(`${appOrigin}/#token=${encodeURIComponent(token)}&keyport=${keyportUrl}`);
    await until(() => page.getByTestId("live").textContent()).toBe("Live");
    // Only the session's end user's credentials: none yet.
    await until(() => page.getByTestId("empty").isVisible()).toBe(true);
    expect(await page.getByTestId("viewer").textContent()).toContain("user-42");
    expect(page.url()).toBe(`${appOrigin}/`);
    const stored = await page.evaluate(() =>
      JSON.stringify([{ ...localStorage }, { ...sessionStorage }, document.cookie]),
    );
    expect(stored).not.toContain(token);
    await shot(page, "01-opened");
  });

  it("adds an OAuth 2.0 credential through the provider's form from the catalog", async () => {
    // The session allows one provider: it is the only choice, and there is no custom form.
    const picker = page.getByLabel("Account type");
    await until(() => picker.locator("option").allTextContents()).toEqual([
      "Loopback ID (OAuth 2.0 (sign in with the provider))",
    ]);
    expect(await picker.inputValue()).toBe("loopback-id/OAUTH2");
    // The catalog's fields: its example as placeholder, its secret masked, no endpoint fields.
    const clientId = page.getByLabel("Client ID");
    await until(() => clientId.getAttribute("placeholder")).toBe("my-client");
    expect(await clientId.getAttribute("required")).not.toBeNull();
    expect(await page.getByLabel("Client secret").getAttribute("type")).toBe("password");
    expect(await page.getByLabel("Issuer").count()).toBe(0);
    expect(await page.getByLabel("Token URL").count()).toBe(0);

    await page.getByLabel("Name", { exact: true }).fill("Calendar");
    await page.getByLabel("Client secret").fill(clientSecret);
    // The entry's pattern is checked before anything is sent.
    await clientId.fill("Not a client!");
    await page.getByRole("button", { name: "Add" }).click();
    await until(() => page.getByTestId("create-form").textContent()).toContain(
      "Client ID does not have the expected form.",
    );
    expect(await page.getByTestId("empty").isVisible()).toBe(true);
    await clientId.fill("screen");
    await shot(page, "02-form-filled");
    await page.getByRole("button", { name: "Add" }).click();
    await until(() => row("Calendar").getByTestId("status").textContent()).toBe(
      "PENDING_AUTHORIZATION",
    );
    // Created for the provider; keyport filled in the endpoints and scopes from the entry.
    await until(() => row("Calendar").textContent()).toContain("loopback-id");
    await shot(page, "03-created");
  });

  it("reports `closed` when the user closes the sign-in popup", async () => {
    const popupOpened = page.waitForEvent("popup");
    await row("Calendar").getByRole("button", { name: "Connect" }).click();
    const popup = await popupOpened;
    await popup.waitForSelector("form[name=login]");
    await shot(popup, "04-popup-login");
    await popup.close();
    await until(() => page.getByTestId("notice").getAttribute("data-reason")).toBe("closed");
    expect(await row("Calendar").getByTestId("status").textContent()).toBe("PENDING_AUTHORIZATION");
    await shot(page, "05-popup-closed");
  });

  it("authorizes through the popup and shows ACTIVE", async () => {
    const popupOpened = page.waitForEvent("popup");
    await row("Calendar").getByRole("button", { name: "Connect" }).click();
    const popup = await popupOpened;
    const popupClosed = popup.waitForEvent("close");
    await popup.locator("form[name=login] input[name=login]").fill("user-1");
    await popup.locator("form[name=login] button").click();
    await popup.waitForSelector("form[name=consent]");
    await shot(popup, "06-popup-consent");
    await popup.locator("form[name=consent] button").click();
    // keyport's callback page posts the outcome to the app and closes itself.
    await popupClosed;
    await until(() => row("Calendar").getByTestId("status").textContent()).toBe("ACTIVE");
    // The helper resolved with the credential.
    await until(() => page.getByTestId("notice").textContent()).toContain("Calendar is connected");
    await shot(page, "07-active");
  });

  it("shows INVALID live, without a reload, when the grant is revoked at the provider", async () => {
    // A marker on the window: still there afterwards means the page was not reloaded.
    await page.evaluate(() => {
      (window as unknown as { marker: string }).marker = "same page";
    });
    const [listed] = dataOf(
      await app.execute(CredentialsByNameQuery, { filter: { search: "Calendar" } }),
    ).credentials.edges;
    // Created through the connect token: it belongs to the session's end user.
    expect(listed?.node.externalUserId).toBe("user-42");
    const id = listed?.node.id ?? "";
    const stored = dataOf(await app.execute(CredentialQuery, { id })).credential;
    if (stored?.__typename !== "OAuth2Credential")
      throw new Error("expected the OAuth2 credential");
    const refreshToken = stored.refreshToken?.value;
    expect(refreshToken).toBeTruthy();

    // The user disconnects the app at the provider: its refresh token (and so the grant) is gone.
    const revoked = await fetch(oidc.revocationUrl, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`screen:${clientSecret}`).toString("base64")}`,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: new URLSearchParams({ token: refreshToken ?? "", token_type_hint: "refresh_token" }),
    });
    expect(revoked.status).toBe(200);
    expect(oidc.counts.revokedGrants).toBe(1);

    // The next refresh meets invalid_grant.
    const rotated = dataOf(
      await app.execute(RotateCredentialMutation, { input: { id } }),
    ).rotateCredential;
    expect(rotated).toMatchObject({
      __typename: "CredentialProviderError",
      code: "REFRESH_TOKEN_REVOKED",
    });

    await until(() => row("Calendar").getByTestId("status").textContent()).toBe("INVALID");
    expect(await row("Calendar").getByTestId("reason").textContent()).toContain(
      "REFRESH_TOKEN_REVOKED",
    );
    expect(await page.evaluate(() => (window as unknown as { marker?: string }).marker)).toBe(
      "same page",
    );
    await until(() => row("Calendar").getByRole("button", { name: "Reconnect" }).isVisible()).toBe(
      true,
    );
    await shot(page, "08-invalid");

    // No secret reached the page, and nothing left loopback.
    const html = await page.content();
    expect(html).not.toContain(clientSecret);
    expect(html).not.toContain(refreshToken);
    expect(html).not.toContain("Someone else's");
    requests.assertLoopbackOnly();
  });

  it("reports `denied` when the user refuses at the provider", async () => {
    const popupOpened = page.waitForEvent("popup");
    await row("Calendar").getByRole("button", { name: "Reconnect" }).click();
    const popup = await popupOpened;
    const popupClosed = popup.waitForEvent("close");
    await popup.locator("form[name=abort] button").click();
    // keyport's error page stays open by itself; the helper closes it after reading the outcome.
    await popupClosed;
    await until(() => page.getByTestId("notice").getAttribute("data-reason")).toBe("denied");
    expect(await row("Calendar").getByTestId("status").textContent()).toBe("INVALID");
    await shot(page, "09-denied");
  });

  it("reports `blocked` when the browser does not open the popup", async () => {
    // What a popup blocker does: window.open returns null.
    await page.evaluate(() => {
      window.open = () => null;
    });
    await row("Calendar").getByRole("button", { name: "Reconnect" }).click();
    await until(() => page.getByTestId("notice").getAttribute("data-reason")).toBe("blocked");
    await shot(page, "10-blocked");
  });

  it("offers every provider and the custom forms to a session that lists no provider; adds an API key through a custom form, never shows it again, and removes it", async () => {
    // A new screen with a session for any provider (the fragment is read when the page opens).
    const previous = page;
    page = await context.newPage();
    await previous.close();
    const anyProvider = await connectToken([]);
    await page.goto(`${appOrigin}/#token=${encodeURIComponent(anyProvider)}&keyport=${keyportUrl}`);
    await until(() => page.getByTestId("live").textContent()).toBe("Live");
    await until(() => row("Calendar").getByTestId("status").textContent()).toBe("INVALID");
    const picker = page.getByLabel("Account type");
    await until(() => picker.locator("option[value='loopback-id/OAUTH2']").count()).toBe(1);
    // The shipped catalog too, and the kind forms as the custom choice.
    expect(await picker.locator("option[value='slack/OAUTH2']").count()).toBe(1);
    expect(await picker.locator("optgroup[label=Custom] option").allTextContents()).toContain(
      "Custom: API key or bearer token",
    );

    // A provider with a connection variable: it comes first and goes into connectionConfig;
    // its pattern is checked before anything is sent.
    await picker.selectOption("zendesk/BASIC");
    const subdomain = page.locator('[name="connectionConfig.subdomain"]');
    await until(() => subdomain.getAttribute("placeholder")).toBe("mycompany");
    expect(await page.locator(".create .field label").allTextContents()).toEqual([
      "Zendesk subdomain *",
      "Agent email *",
      "API token *",
    ]);
    expect(await page.locator('[name="basic.password"]').getAttribute("type")).toBe("password");
    await page.getByLabel("Name", { exact: true }).fill("Help desk");
    await subdomain.fill("my.company");
    await page.getByLabel("Agent email").fill("agent@example.com");
    await page.getByLabel("API token").fill("not-sent");
    await page.getByRole("button", { name: "Add" }).click();
    await until(() => page.getByTestId("create-form").textContent()).toContain(
      "Zendesk subdomain does not have the expected form.",
    );
    expect(await row("Help desk").count()).toBe(0);
    await shot(page, "11-provider-variable");

    const secret = `canary-api-key-${randomBytes(8).toString("hex")}`;
    await picker.selectOption("BEARER");
    await page.getByLabel("Name", { exact: true }).fill("Issue tracker");
    const tokenInput = page.locator('[name="bearer.token"]');
    await tokenInput.fill(secret);
    await page.getByLabel("Header name").fill("X-Api-Key");
    await page.getByLabel("Scheme").fill("Token");
    await page.getByRole("button", { name: "Add" }).click();
    await until(() => row("Issue tracker").getByTestId("status").textContent()).toBe("ACTIVE");
    expect(await tokenInput.inputValue()).toBe("");
    expect(await page.content()).not.toContain(secret);
    await shot(page, "12-api-key-added");

    await row("Issue tracker").getByRole("button", { name: "Remove" }).click();
    await until(() => row("Issue tracker").count()).toBe(0);
    const remaining = dataOf(
      await app.execute(CredentialsByNameQuery, { filter: { search: "Issue tracker" } }),
    ).credentials.edges;
    expect(remaining).toEqual([]);
  });
});
