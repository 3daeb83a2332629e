// The playground in a real browser: it renders from keyport alone (no request leaves loopback),
// opens with the example document, runs it with the key set in the headers editor, and keeps
// neither the key nor secret results in localStorage.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { playgroundDocument } from "../../src/lib/playground.js";
import { startTestApp, type TestApp } from "../helpers/app.js";
import {
  launchBrowser,
  type RequestLog,
  recordRequests,
  saveScreenshot,
} from "../helpers/browser.js";
import { createCredential } from "../helpers/credentials.js";

const canaryToken = `canary-playground-${crypto.randomUUID()}`;

describe("GraphiQL playground in Chromium", () => {
  let app: TestApp;
  let server: Server;
  let baseUrl: string;
  let browser: Browser;
  let credentialId: string;

  beforeAll(async () => {
    app = await startTestApp();
    credentialId = (
      await createCredential(app, { name: "playground bearer", bearer: { token: canaryToken } })
    ).id;
    server = app.keyport.createHttpServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await app?.close();
  });

  const queryEditor = ".graphiql-query-editor .monaco-editor";
  const headersEditor = '.monaco-editor[data-uri$="-headers.json"]';
  const resultWindow = ".result-window .monaco-editor";

  async function openPlayground(page: Page, requests: RequestLog) {
    // A browser's navigation asks for text/html; that is what gets GraphiQL rather than JSON.
    const response = await page.goto(`${baseUrl}/graphql`);
    expect(response?.request().headers().accept).toContain("text/html");
    expect(response?.status()).toBe(200);
    expect(response?.headers()["content-type"]).toMatch(/^text\/html/);
    // A page that waits for a CDN never shows the editor: say which requests it tried.
    await page
      .locator(queryEditor)
      .first()
      .waitFor()
      .catch((error: unknown) => {
        requests.assertLoopbackOnly();
        throw error;
      });
  }

  /** Replaces an editor's whole text, as typing (or pasting) into it does. */
  async function replaceText(page: Page, editor: string, text: string) {
    await page.locator(editor).first().click();
    await page.keyboard.press("ControlOrMeta+A");
    await page.keyboard.press("Delete");
    await page.keyboard.insertText(text);
  }

  // Monaco renders spaces as no-break spaces.
  const textOf = async (page: Page, editor: string) =>
    (await page.locator(`${editor} .view-lines`).first().innerText()).replace(/\u00a0/g, " ");

  const localStorageOf = (page: Page) => page.evaluate(() => JSON.stringify({ ...localStorage }));

  it("renders, runs the example with the key from the headers editor, and stores no secret", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1800 } });
    const requests: RequestLog = await recordRequests(context);
    const page = await context.newPage();
    try {
      await openPlayground(page, requests);
      expect(await page.title()).toBe("keyport playground");

      // The example document, and the headers editor open below it, empty.
      const document = await textOf(page, queryEditor);
      expect(document).toContain("query Playground");
      expect(document).toContain("Authorization");
      expect(document).toContain("# mutation AcquireHeaders");
      expect(document).toContain("acquireCredentialHeaders");
      await page.locator(headersEditor).first().waitFor();
      expect((await textOf(page, headersEditor)).trim()).toBe("");

      // The example query, as the comment says: the key in the headers editor, then run.
      await replaceText(
        page,
        headersEditor,
        JSON.stringify({ Authorization: `Bearer ${app.adminKey}` }),
      );
      await page.locator(".graphiql-execute-button").click();
      await expect
        .poll(() => textOf(page, resultWindow), { timeout: 20_000 })
        .toContain("playground bearer");
      const result = await textOf(page, resultWindow);
      expect(result).toContain('"slug": "default"');
      expect(result).toContain('"admin"');
      expect(result).not.toContain("errors");
      await saveScreenshot(page, "graphiql-example-query");

      // The commented mutation, uncommented, with the credential's id: the secret headers.
      const mutation = playgroundDocument
        .slice(playgroundDocument.indexOf("# mutation AcquireHeaders"))
        .replace(/^# ?/gm, "")
        .replace("<credential id>", credentialId)
        // One line: the editor indents and closes brackets as typed text arrives.
        .replace(/\s+/g, " ")
        .trim();
      await replaceText(page, queryEditor, mutation);
      await page.locator(".graphiql-execute-button").click();
      await expect
        .poll(() => textOf(page, resultWindow), { timeout: 20_000 })
        .toContain(canaryToken);
      expect(await textOf(page, resultWindow)).toContain("AcquireCredentialHeadersSuccess");

      // Neither the key, nor the header, nor the secret result is in localStorage; after a
      // reload the headers editor is empty again.
      const expectNothingStored = async () => {
        const stored = await localStorageOf(page);
        expect(stored).not.toContain(app.adminKey);
        expect(stored).not.toContain(canaryToken);
        const entries = JSON.parse(stored) as Record<string, string>;
        expect(entries["graphiql:headers"]).toBeUndefined();
        const tabState = JSON.parse(entries["graphiql:tabState"] ?? "null") as {
          tabs: { headers: string | null; response: string | null }[];
        };
        expect(tabState.tabs.length).toBeGreaterThan(0);
        for (const tab of tabState.tabs)
          expect(tab).toMatchObject({ headers: null, response: null });
      };
      await expectNothingStored();
      await page.reload();
      await page.locator(headersEditor).first().waitFor();
      expect((await textOf(page, headersEditor)).trim()).toBe("");
      await expectNothingStored();
      await saveScreenshot(page, "graphiql-after-reload");

      // Everything came from keyport: the page, and its requests to /graphql.
      requests.assertLoopbackOnly();
      expect(requests.urls.length).toBeGreaterThan(0);
      for (const url of requests.urls) {
        if (url.startsWith("data:") || url.startsWith("blob:")) continue;
        expect(new URL(url).origin).toBe(baseUrl);
      }
    } finally {
      await context.close();
    }
  });
});
