// Every outbound HTTP request in src/ goes through src/lib/outbound.ts: no other module calls
// fetch, opens HTTP(S) clients or sockets, or builds a remote key set without the outbound fetch.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../../src");
const outboundModule = path.join("lib", "outbound.ts");

function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return entry.name === "generated" ? [] : sourceFiles(full);
    return entry.name.endsWith(".ts") ? [full] : [];
  });
}

// Comments are dropped so prose that mentions fetch() does not count.
const code = (file: string) =>
  readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1");

const files = sourceFiles(root).map((file) => ({
  name: path.relative(root, file),
  text: code(file),
}));

describe("one outbound path", () => {
  it("finds the sources", () => {
    expect(files.map((f) => f.name)).toContain(outboundModule);
    expect(files.length).toBeGreaterThan(20);
  });

  it("calls fetch only in the outbound module", () => {
    const offenders = files
      .filter((f) => f.name !== outboundModule)
      .filter((f) => /(^|[^.\w])fetch\s*\(/m.test(f.text) || /globalThis\.fetch/.test(f.text))
      .map((f) => f.name);
    expect(offenders).toEqual([]);
  });

  it("opens no HTTP client, socket or resolver elsewhere", () => {
    const clients =
      /from\s+["'](node:)?(https|http2|net|tls|dns|dgram|undici)["']|\b(https?)\.(request|get)\s*\(|\brequest\s*\(\s*(new URL|["'`]https?:)/;
    const offenders = files
      .filter((f) => f.name !== outboundModule)
      .filter((f) => clients.test(f.text))
      .map((f) => f.name);
    expect(offenders).toEqual([]);
    // node:http is imported only to serve (createServer), never to make requests.
    for (const file of files) {
      for (const match of file.text.matchAll(
        /import\s*\{([^}]*)\}\s*from\s*["'](node:)?http["']/g,
      )) {
        const names = (match[1] ?? "").split(",").map((n) => n.replace(/\btype\b/, "").trim());
        expect(
          names
            .filter(Boolean)
            .every((n) =>
              ["createServer", "Server", "IncomingMessage", "ServerResponse"].includes(n),
            ),
          file.name,
        ).toBe(true);
      }
      expect(
        /import\s+\*\s+as\s+\w+\s+from\s+["'](node:)?http["']|import\s+\w+\s+from\s+["'](node:)?http["']/.test(
          file.text,
        ),
        file.name,
      ).toBe(false);
    }
  });

  it("fetches every remote key set through the outbound path", () => {
    const remote = files.filter((f) => /createRemoteJWKSet\s*\(/.test(f.text));
    expect(remote.map((f) => f.name).sort()).toEqual(
      ["lib/auth.ts", "modules/oauth/id-token.ts"].sort(),
    );
    for (const file of remote) {
      const calls = file.text.split(/createRemoteJWKSet\s*\(/).slice(1);
      for (const call of calls) {
        expect(call.slice(0, 600), file.name).toMatch(
          /\[customFetch\]:[\s\S]{0,200}?outbound\.fetch\(/,
        );
      }
    }
  });
});
