// `npm run test:production`: the README's production recipe, step by step, on a clean clone of
// this repository's HEAD, against a PostgreSQL database that does not exist yet:
//   npm ci, npm run build, npm prune --omit=dev, npm run db:migrate, npm start,
// then /readyz, one GraphQL request with the bootstrap admin key, and SIGTERM to the `npm start`
// process itself, which must exit 0 and free the port. Needs PostgreSQL (POSTGRES_URL, default
// postgresql://postgres@127.0.0.1:5432/postgres, a user that may create databases).
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const repo = fileURLToPath(new URL("../..", import.meta.url));
const serverUrl = process.env.POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
const work = mkdtempSync(path.join(os.tmpdir(), "keyport-recipe-"));
const checkout = path.join(work, "keyport");
const dbName = `keyport_recipe_${Date.now()}_${process.pid}`;
const started = Date.now();

const step = (text) =>
  process.stdout.write(`\n==> ${text} (${Math.round((Date.now() - started) / 1000)} s)\n`);

/** Runs a command in the clone; fails with its output when it fails. */
function sh(command, args, env = {}, cwd = checkout) {
  const result = spawnSync(command, args, {
    cwd,
    env: { ...baseEnv(), ...env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}${result.error ?? ""}`;
  assert.equal(result.status, 0, `${command} ${args.join(" ")} failed:\n${output}`);
  return output;
}

/** The environment of an operator's shell: no NODE_ENV, DATABASE_URL... from the caller. */
function baseEnv() {
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.homedir() };
  for (const name of ["npm_config_cache", "TMPDIR", "LANG"]) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return env;
}

function freePort() {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function portIsFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

async function dropDatabase() {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

async function main() {
  step("git clone (HEAD)");
  sh("git", ["clone", "--quiet", "--no-hardlinks", repo, checkout], {}, work);

  step("npm ci");
  sh("npm", ["ci", "--prefer-offline", "--no-audit", "--no-fund"]);

  step("npm run build");
  sh("npm", ["run", "build"]);
  assert.ok(existsSync(path.join(checkout, "dist", "src", "server.js")), "dist/src/server.js");

  step("npm prune --omit=dev");
  sh("npm", ["prune", "--omit=dev", "--no-audit", "--no-fund"]);
  // (typescript and prisma stay: @prisma/client names them as optional peers, so npm keeps them.)
  for (const devOnly of ["tsx", "vitest", "@biomejs/biome", "@graphql-codegen/cli"]) {
    assert.ok(
      !existsSync(path.join(checkout, "node_modules", devOnly)),
      `${devOnly} is still installed after the prune`,
    );
  }

  const databaseUrl = new URL(serverUrl);
  databaseUrl.pathname = `/${dbName}`;
  const port = await freePort();
  const env = {
    NODE_ENV: "production",
    DATABASE_URL: databaseUrl.toString(),
    ENCRYPTION_KEYS: `k1:${randomBytes(32).toString("base64url")}`,
    HOST: "127.0.0.1",
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    DATA_DIR: path.join(work, "data"),
  };

  step("npm run db:migrate (the database does not exist yet)");
  const migrated = sh("npm", ["run", "db:migrate"], env);
  assert.match(migrated, new RegExp(`created database "${dbName}"`));
  assert.match(migrated, /applied \d+ migration\(s\)/);
  assert.doesNotMatch(migrated, /WARNING: Your schema specifies/);
  const again = sh("npm", ["run", "db:migrate"], env);
  assert.match(again, /the database schema is up to date/);

  step("npm start");
  const npm = spawn("npm", ["start"], { cwd: checkout, env: { ...baseEnv(), ...env } });
  let output = "";
  npm.stdout.on("data", (chunk) => (output += chunk));
  npm.stderr.on("data", (chunk) => (output += chunk));
  const exited = new Promise((resolve) =>
    npm.on("exit", (code, signal) => resolve({ code, signal })),
  );
  try {
    const origin = `http://127.0.0.1:${port}`;
    let ready = null;
    for (let i = 0; i < 240 && !ready; i++) {
      const state = await Promise.race([exited.then(() => "exited"), Promise.resolve("running")]);
      assert.equal(state, "running", `npm start exited:\n${output}`);
      try {
        const response = await fetch(`${origin}/readyz`);
        if (response.status === 200) ready = await response.json();
      } catch {
        // not listening yet
      }
      if (!ready) await new Promise((resolve) => setTimeout(resolve, 500));
    }
    assert.ok(ready, `/readyz never answered 200:\n${output}`);
    assert.equal(ready.status, "ready");
    assert.doesNotMatch(output, /tsx|prisma generate|WARNING: Your schema specifies/);

    const key = readFileSync(path.join(env.DATA_DIR, "admin-api-key"), "utf8").trim();
    assert.ok(output.includes(key), "the first start prints the admin key");
    const response = await fetch(`${origin}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: "{ viewer { __typename } }" }),
    });
    const result = await response.json();
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.equal(result.errors, undefined, JSON.stringify(result.errors));
    assert.ok(result.data?.viewer, JSON.stringify(result));

    step("SIGTERM to the npm start process");
    npm.kill("SIGTERM");
    const { code, signal } = await exited;
    assert.equal(signal, null, `npm start died of ${signal}:\n${output}`);
    assert.equal(code, 0, `npm start exited ${code}:\n${output}`);
    assert.match(output, /"msg":"keyport stopped"/);
    assert.ok(await portIsFree(port), "the port is still taken after exit");
  } finally {
    if (npm.exitCode === null && npm.signalCode === null) npm.kill("SIGKILL");
  }
}

try {
  await main();
  step("production recipe passed");
} catch (error) {
  process.stderr.write(`\nproduction recipe FAILED: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await dropDatabase().catch((error) => process.stderr.write(`drop failed: ${error}\n`));
  rmSync(work, { recursive: true, force: true });
}
