// Starts the real server process with bad configuration and checks it stops quickly and clearly.
import { spawn } from "node:child_process";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");
const tsx = path.join(root, "node_modules", ".bin", "tsx");

function startServer(env: Record<string, string>, waitFor?: RegExp) {
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>(
    (resolve) => {
      const started = Date.now();
      const child = spawn(tsx, ["src/server.ts"], {
        cwd: root,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk) => {
        stdout += chunk;
        if (waitFor?.test(stdout)) child.kill("SIGTERM");
      });
      child.stderr.on("data", (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr, ms: Date.now() - started });
      });
    },
  );
}

describe("server start", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "keyport-start-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
  });

  it("lists every configuration problem in one message, without a stack trace", async () => {
    const result = await startServer({
      DATA_DIR: await tempDir(),
      PORT: "abc",
      DATABASE_URL: "mysql://nope",
      REDIS_URL: "http://not-redis",
      AUTH_JWT_SECRET: "short",
    });
    expect(result.code).not.toBe(0);
    expect(result.ms).toBeLessThan(15_000);
    for (const name of ["PORT", "DATABASE_URL", "REDIS_URL", "AUTH_JWT_SECRET"]) {
      expect(result.stderr).toContain(name);
    }
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses DATABASE_URL without ENCRYPTION_KEYS, and malformed keys", async () => {
    const missing = await startServer({
      DATA_DIR: await tempDir(),
      DATABASE_URL: "postgresql://127.0.0.1:5432/keyport",
    });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/ENCRYPTION_KEYS is required when DATABASE_URL is set/);
    const malformed = await startServer({
      DATA_DIR: await tempDir(),
      ENCRYPTION_KEYS: "k1:tooshort",
    });
    expect(malformed.code).not.toBe(0);
    expect(malformed.stderr).toContain("ENCRYPTION_KEYS");
    expect(malformed.stderr).not.toContain("tooshort");
  });

  it("stops within seconds when the database cannot be reached", async () => {
    const result = await startServer({
      DATA_DIR: await tempDir(),
      // Port 9 on loopback: nothing listens there.
      DATABASE_URL: "postgresql://keyport@127.0.0.1:9/keyport",
      ENCRYPTION_KEYS: "k1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
      // The port is bound before the database is opened: any free one.
      PORT: "0",
    });
    expect(result.code).not.toBe(0);
    expect(result.ms).toBeLessThan(15_000);
    expect(result.stderr).toMatch(/DATABASE_URL cannot be reached/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("refuses a broken provider catalog file in PROVIDERS_DIR, naming the file and the problem", async () => {
    const providersDir = await tempDir();
    await writeFile(
      path.join(providersDir, "inhouse.yaml"),
      "key: inhouse\nname: In-house\nauth:\n  - kind: BEARER\n    placement: { in: SIDEWAYS }\n",
    );
    const result = await startServer({ DATA_DIR: await tempDir(), PROVIDERS_DIR: providersDir });
    expect(result.code).not.toBe(0);
    expect(result.ms).toBeLessThan(15_000);
    expect(result.stderr).toContain("keyport cannot start");
    expect(result.stderr).toContain(path.join(providersDir, "inhouse.yaml"));
    expect(result.stderr).toMatch(/auth\.0\.placement\.in/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("starts on the embedded default, printing the admin key once and saving it 0600", async () => {
    const dataDir = await tempDir();
    const first = await startServer({ DATA_DIR: dataDir, PORT: "0" }, /keyport listening/);
    expect(first.stdout).toMatch(/kp_[A-Za-z0-9_-]{43}/);
    const keyFile = await stat(path.join(dataDir, "admin-api-key"));
    expect(keyFile.mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dataDir, "encryption-keys"))).mode & 0o777).toBe(0o600);
    const second = await startServer({ DATA_DIR: dataDir, PORT: "0" }, /keyport listening/);
    expect(second.stdout).toMatch(/keyport listening/);
    expect(second.stdout).not.toMatch(/kp_[A-Za-z0-9_-]{43}/);
  }, 150_000);
});
