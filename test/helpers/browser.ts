// Headless Chromium for the end-to-end tests, through playwright-core (no bundled browser):
// Debian's `chromium` package, or the binary named by CHROMIUM_PATH.
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";

export const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";

/** Where screenshots go (git-ignored). */
export const screenshotDir = path.resolve(import.meta.dirname, "../../test-results");

export async function launchBrowser(): Promise<Browser> {
  const args: string[] = [];
  // Chromium refuses to start its sandbox as root (CI containers run as root).
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: chromiumPath, headless: true, args });
}

const loopbackHosts = new Set(["127.0.0.1", "localhost", "[::1]"]);

export type RequestLog = {
  /** Every request the pages made, in order (including blocked ones). */
  urls: string[];
  /** Requests to any host other than loopback; each one was aborted. */
  external: string[];
  /** Throws when the page tried to reach anything outside loopback. */
  assertLoopbackOnly(): void;
};

/** Records every request the pages of a context make (popups and workers included), and aborts
 * any that would leave the machine, so a test never depends on, or reaches, the internet.
 * `data:` and `blob:` URLs stay in the page. Call it before opening the first page. */
export async function recordRequests(context: BrowserContext): Promise<RequestLog> {
  const urls: string[] = [];
  const external: string[] = [];
  const isLocal = (url: URL) =>
    url.protocol === "data:" || url.protocol === "blob:" || loopbackHosts.has(url.hostname);
  context.on("request", (request) => {
    urls.push(request.url());
  });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (isLocal(new URL(url))) return route.continue();
    external.push(url);
    return route.abort("blockedbyclient");
  });
  return {
    urls,
    external,
    assertLoopbackOnly() {
      if (external.length > 0) {
        throw new Error(`the page made requests outside loopback:\n${external.join("\n")}`);
      }
    },
  };
}

/** Saves a full-page screenshot as test-results/<name>.png and returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  await mkdir(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
