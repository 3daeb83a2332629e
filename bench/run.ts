// `npm run bench`: HTTP throughput of keyport next to a plain graphql-yoga baseline.
//
// Every server and the load generator are separate processes (client and server must not share
// an event loop); everything talks over 127.0.0.1 only. Environment:
//   BENCH_SECONDS        measured seconds per scenario (default 10), after a short warm-up
//   BENCH_WARMUP_SECONDS warm-up seconds per scenario (default 3)
//   BENCH_CONNECTIONS    concurrent clients (default 50)
//   BENCH_SCENARIOS      comma list of scenario names (default: all in scenarios.ts)
//   BENCH_DATABASES      comma list of pglite, postgres (default: both)
//   BENCH_DATABASE_URL   PostgreSQL server for the postgres runs; a fresh database is created
//                        and dropped there (default postgresql://postgres@127.0.0.1:5432/postgres)
//   BENCH_REDIS_URL      Redis the instances of the postgres runs share when a scenario needs a
//                        second instance (fanout); default redis://127.0.0.1:6379, "" for none
// Exits 0 when the benchmark ran (missed targets are reported, not failures), 1 on a harness
// error, 130 when interrupted.
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createDatabase, dropDatabase, postgresUnavailable } from "./postgres.js";
import {
  type Child,
  freePort,
  host,
  killAllChildrenNow,
  peakRssMb,
  resetPeakRss,
  runToCompletion,
  scriptPid,
  startChild,
  stopChild,
  waitForHttp,
  withTimeout,
} from "./processes.js";
import {
  type Api,
  type BurstResult,
  type BurstScenario,
  baselineRequest,
  type Scenario,
  scenarios,
} from "./scenarios.js";
import { type LoaderJob, type LoadRequest, type LoadResult, resultMarker } from "./types.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsxBin = path.join(root, "node_modules", ".bin", "tsx");

/** The issue's target: acquire-static on PostgreSQL at this fraction of baseline req/s or more. */
type Target = { scenario: string; database: Database; ratio: number };
const targets: Target[] = [
  { scenario: "acquire-static", database: "postgres", ratio: 0.4 },
  { scenario: "acquire-oauth-cached", database: "postgres", ratio: 0.4 },
];

type Database = "pglite" | "postgres";
const databaseNames: Database[] = ["pglite", "postgres"];

class HarnessError extends Error {}

// ---------------------------------------------------------------------------------------------
// Settings

function numberFromEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min) {
    throw new HarnessError(`${name} must be a number >= ${min}, got ${JSON.stringify(raw)}`);
  }
  return value;
}

function listFromEnv(name: string): string[] | null {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return null;
  return raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function readSettings() {
  const seconds = numberFromEnv("BENCH_SECONDS", 10, 1);
  const warmupSeconds = numberFromEnv("BENCH_WARMUP_SECONDS", 3, 0);
  const connections = Math.round(numberFromEnv("BENCH_CONNECTIONS", 50, 1));
  const scenarioNames = listFromEnv("BENCH_SCENARIOS") ?? scenarios.map((s) => s.name);
  const unknownScenarios = scenarioNames.filter((n) => !scenarios.some((s) => s.name === n));
  if (unknownScenarios.length > 0) {
    throw new HarnessError(
      `BENCH_SCENARIOS: unknown ${unknownScenarios.join(", ")} (known: ${scenarios.map((s) => s.name).join(", ")})`,
    );
  }
  const databases = listFromEnv("BENCH_DATABASES") ?? databaseNames;
  const unknownDatabases = databases.filter((d) => !databaseNames.includes(d as Database));
  if (unknownDatabases.length > 0) {
    throw new HarnessError(
      `BENCH_DATABASES: unknown ${unknownDatabases.join(", ")} (known: ${databaseNames.join(", ")})`,
    );
  }
  return {
    seconds,
    warmupSeconds,
    connections,
    scenarios: scenarios.filter((s) => scenarioNames.includes(s.name)),
    databases: databaseNames.filter((d) => databases.includes(d)),
    postgresServerUrl:
      process.env.BENCH_DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres",
    redisUrl: process.env.BENCH_REDIS_URL ?? "redis://127.0.0.1:6379",
  };
}

type Settings = ReturnType<typeof readSettings>;

// ---------------------------------------------------------------------------------------------
// Cleanup: every resource registers how to release it; release runs once, last in first out, on
// success, on failure and on SIGINT/SIGTERM.

type Task = { name: string; run: () => Promise<void> };
const pending: Task[] = [];
const tempDirs = new Set<string>();

function onCleanup(name: string, fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | null = null;
  const task: Task = {
    name,
    run: () => {
      done ??= (async () => {
        const index = pending.indexOf(task);
        if (index >= 0) pending.splice(index, 1);
        try {
          await withTimeout(fn(), 30_000, `cleanup: ${name}`);
        } catch (error) {
          process.stderr.write(`cleanup: ${name} failed: ${message(error)}\n`);
        }
      })();
      return done;
    },
  };
  pending.push(task);
  return task.run;
}

async function cleanupAll(): Promise<void> {
  while (pending.length > 0) await pending[pending.length - 1]?.run();
}

async function makeTempDir(): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "keyport-bench-"));
  tempDirs.add(dir);
  const remove = onCleanup(`remove ${dir}`, async () => {
    await rm(dir, { recursive: true, force: true });
    tempDirs.delete(dir);
  });
  return { dir, remove };
}

// Last resort when the process exits some other way: nothing asynchronous runs here.
process.on("exit", () => {
  killAllChildrenNow();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

let interrupted = false;

/** Called before acquiring anything, so nothing new starts while an interrupt cleans up. */
function ensureRunning(): void {
  if (interrupted) throw new HarnessError("interrupted");
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping servers and cleaning up…\n`);
    void withTimeout(cleanupAll(), 60_000, "cleanup")
      .catch(() => {})
      .finally(() => process.exit(130));
  });
}

// ---------------------------------------------------------------------------------------------
// Servers

/** The environment children get: ours without keyport's own settings, which we set per server. */
function baseEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (
      /^(PORT|HOST|DATA_DIR|DATABASE_URL|REDIS_URL|PUBLIC_URL|ENCRYPTION_KEYS|LOG_LEVEL)$/.test(
        name,
      ) ||
      name.startsWith("AUTH_") ||
      name.startsWith("BENCH_")
    ) {
      delete env[name];
    }
  }
  // The Prisma CLI would otherwise check for updates over the internet.
  env.CHECKPOINT_DISABLE = "1";
  env.PRISMA_HIDE_UPDATE_MESSAGE = "1";
  return env;
}

type Server = {
  origin: string;
  /** The process that runs the server script (tsx's grandchild), for its peak RSS. */
  pid: number;
  stop: () => Promise<void>;
};

async function startServer(
  name: string,
  script: string,
  env: NodeJS.ProcessEnv,
  readyPath: string,
): Promise<Server> {
  const port = await freePort();
  const origin = `http://${host}:${port}`;
  ensureRunning();
  const child: Child = startChild(name, tsxBin, [script], {
    cwd: root,
    env: { ...env, PORT: String(port), HOST: host },
  });
  const stop = onCleanup(`stop ${name}`, () => stopChild(child));
  try {
    await waitForHttp(child, `${origin}${readyPath}`, 90_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin, pid: scriptPid(child.pid, script), stop };
}

function adminApi(origin: string, adminKey: string): Api {
  return {
    origin,
    adminKey,
    async graphql<T>(query: string, variables?: Record<string, unknown>): Promise<T> {
      const response = await fetch(`${origin}/graphql`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          authorization: `Bearer ${adminKey}`,
        },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await response.text();
      let result: { data?: T; errors?: unknown[] };
      try {
        result = JSON.parse(text) as typeof result;
      } catch {
        throw new Error(`HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
      }
      if (!response.ok || result.errors?.length || !result.data) {
        throw new Error(`HTTP ${response.status}: ${JSON.stringify(result.errors ?? result)}`);
      }
      return result.data;
    },
  };
}

/** Starts keyport on a fresh DATA_DIR (and a fresh PostgreSQL database), runs `use`, cleans up. */
async function withKeyport(
  database: Database,
  settings: Settings,
  use: (api: Api, server: Server) => Promise<void>,
): Promise<void> {
  const releases: (() => Promise<void>)[] = [];
  try {
    const data = await makeTempDir();
    releases.push(data.remove);
    const env: NodeJS.ProcessEnv = { ...baseEnv(), DATA_DIR: data.dir, LOG_LEVEL: "warn" };

    if (database === "postgres") {
      const serverUrl = settings.postgresServerUrl;
      const name = `keyport_bench_${randomBytes(6).toString("hex")}`;
      releases.push(onCleanup(`drop database ${name}`, () => dropDatabase(serverUrl, name)));
      ensureRunning();
      const databaseUrl = await withTimeout(
        createDatabase(serverUrl, name),
        30_000,
        "CREATE DATABASE",
      );
      // An interrupt may have run the cleanup while CREATE DATABASE was under way.
      if (interrupted) await dropDatabase(serverUrl, name);
      ensureRunning();
      // The same step as a deployment (`npm run db:migrate`), from source.
      await runToCompletion("db:migrate", tsxBin, ["scripts/migrate.ts"], {
        cwd: root,
        env: { ...baseEnv(), DATABASE_URL: databaseUrl },
        timeoutMs: 120_000,
      });
      env.DATABASE_URL = databaseUrl;
      env.ENCRYPTION_KEYS = `k1:${randomBytes(32).toString("base64url")}`;
      // Instances share events through Redis when there are several (scenarios start peers).
      if (settings.redisUrl && settings.scenarios.some((s) => "peers" in s && s.peers)) {
        env.REDIS_URL = settings.redisUrl;
      }
    }

    const server = await startServer(`keyport (${database})`, "src/server.ts", env, "/readyz");
    releases.push(server.stop);
    // Written on the first start, before keyport listens.
    const adminKey = (await readFile(path.join(data.dir, "admin-api-key"), "utf8")).trim();
    const api = adminApi(server.origin, adminKey);
    api.serverPid = server.pid;
    // More instances on the same database (PostgreSQL only: PGlite is single-process).
    if (env.DATABASE_URL) {
      let peers = 0;
      api.startPeer = async () => {
        const peerData = await makeTempDir();
        releases.push(peerData.remove);
        peers++;
        const peer = await startServer(
          `keyport peer ${peers} (${database})`,
          "src/server.ts",
          { ...env, DATA_DIR: peerData.dir },
          "/readyz",
        );
        releases.push(peer.stop);
        return { origin: peer.origin, pid: peer.pid };
      };
    }
    await use(api, server);
  } finally {
    // Server first, then its database and files.
    for (const release of releases.reverse()) await release();
  }
}

// ---------------------------------------------------------------------------------------------
// Load

type Measurement = { result: LoadResult; peakRssMb: number | null };

async function measure(
  label: string,
  server: Server,
  request: LoadRequest,
  settings: Settings,
): Promise<Measurement> {
  const job: LoaderJob = {
    origin: server.origin,
    request,
    connections: settings.connections,
    warmupSeconds: settings.warmupSeconds,
    seconds: settings.seconds,
    timeoutSeconds: 10,
  };
  // The peak is per scenario even when several share one server.
  resetPeakRss(server.pid);
  ensureRunning();
  const loader = startChild(`load generator (${label})`, tsxBin, ["bench/loader.ts"], {
    cwd: root,
    env: { ...baseEnv(), BENCH_LOADER_JOB: JSON.stringify(job) },
    keepStdout: true,
  });
  const stop = onCleanup(`stop load generator (${label})`, () => stopChild(loader, 2_000));
  try {
    const budgetMs = (settings.warmupSeconds + settings.seconds + 60) * 1_000;
    const code = await withTimeout(loader.exited, budgetMs, `load generator (${label})`);
    const line = loader
      .stdout()
      .split("\n")
      .find((l) => l.startsWith(resultMarker));
    if (code !== 0 || !line) {
      throw new Error(`load generator exited ${code} without a result:\n${loader.output()}`);
    }
    const result = JSON.parse(line.slice(resultMarker.length)) as LoadResult;
    return { result, peakRssMb: peakRssMb(server.pid) };
  } finally {
    await stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Report

type Row = {
  scenario: string;
  database: string;
  /** Extra findings of a burst scenario, printed under the table. */
  notes?: string[];
  measurement?: Measurement;
  /** Why there is no measurement. */
  skipped?: string;
  failed?: string;
};

const errorsOf = (r: LoadResult) => r.non2xx + r.socketErrors + r.wrongBodies;

/** A burst's latencies in the shape of a sustained load's result, for the same table. */
function burstToLoad(burst: BurstResult): LoadResult {
  const sorted = [...burst.latenciesMs].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? 0;
  return {
    responses: burst.requests,
    durationSeconds: burst.durationSeconds,
    requestsPerSecond: burst.durationSeconds > 0 ? burst.requests / burst.durationSeconds : 0,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    non2xx: 0,
    statusCodes: {},
    socketErrors: 0,
    timeouts: 0,
    wrongBodies: burst.errors,
    sampleWrongBody: burst.sampleError,
  };
}

function printTable(rows: Row[], baseline: LoadResult | null) {
  const header = [
    "scenario",
    "database",
    "req/s",
    "× baseline",
    "p50 ms",
    "p99 ms",
    "errors",
    "server peak RSS MB",
  ];
  const lines = rows.map((row) => {
    const m = row.measurement;
    if (!m) {
      const note = row.failed ? "FAILED" : `skipped`;
      return [row.scenario, row.database, note, "", "", "", "", ""];
    }
    const r = m.result;
    const ratio =
      baseline && baseline.requestsPerSecond > 0
        ? r.requestsPerSecond / baseline.requestsPerSecond
        : Number.NaN;
    return [
      row.scenario,
      row.database,
      r.requestsPerSecond.toFixed(0),
      Number.isNaN(ratio) ? "n/a" : ratio.toFixed(2),
      r.p50Ms.toFixed(2),
      r.p99Ms.toFixed(2),
      String(errorsOf(r)),
      m.peakRssMb === null ? "n/a" : m.peakRssMb.toFixed(0),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? "").length)));
  const format = (cells: string[]) =>
    cells
      .map((cell, i) => (i < 2 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  console.log(format(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const line of lines) console.log(format(line));

  for (const row of rows) {
    const where = `${row.scenario} (${row.database})`;
    for (const note of row.notes ?? []) console.log(`\n${where}: ${note}`);
    if (row.failed) console.log(`\n${where} FAILED: ${row.failed}`);
    if (row.skipped) console.log(`\n${where} skipped: ${row.skipped}`);
    const r = row.measurement?.result;
    if (r && errorsOf(r) > 0) {
      const codes = Object.entries(r.statusCodes)
        .map(([code, count]) => `${code}×${count}`)
        .join(", ");
      console.log(
        `\n${where} errors: ${r.non2xx} non-2xx, ${r.socketErrors} connection errors ` +
          `(${r.timeouts} timeouts), ${r.wrongBodies} 2xx with a wrong body; statuses ${codes}` +
          (r.sampleWrongBody ? `\n  first wrong answer: ${r.sampleWrongBody}` : ""),
      );
    }
  }
}

function targetLine(target: Target, rows: Row[], baseline: LoadResult | null): string {
  const wanted = `${target.scenario} on PostgreSQL at >= ${target.ratio.toFixed(2)} × baseline req/s`;
  const row = rows.find((r) => r.scenario === target.scenario && r.database === target.database);
  if (!row) return `Target: ${wanted}: not measured (not selected)`;
  const r = row.measurement?.result;
  if (!r || !baseline) {
    return `Target: ${wanted}: not measured (${row.skipped ?? row.failed ?? "no baseline"})`;
  }
  const ratio = r.requestsPerSecond / baseline.requestsPerSecond;
  const errors = errorsOf(r);
  // Fast failures would flatter the ratio, so a run with errors does not meet the target.
  const met = ratio >= target.ratio && errors === 0;
  const detail = `${ratio.toFixed(2)}${errors > 0 ? `, ${errors} errors` : ""}`;
  return `Target: ${wanted}: ${met ? "met" : "NOT met"} (${detail})`;
}

// ---------------------------------------------------------------------------------------------
// Main

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function runScenarios(
  database: Database,
  selected: (Scenario | BurstScenario)[],
  settings: Settings,
  rows: Row[],
): Promise<void> {
  const ours = selected.map((s): Row => ({ scenario: s.name, database }));
  rows.push(...ours);
  try {
    await withKeyport(database, settings, async (api, server) => {
      for (const [index, scenario] of selected.entries()) {
        const row = ours[index] as Row;
        if (interrupted) return;
        console.log(`- ${scenario.name} on ${database}: ${scenario.description}`);
        try {
          if ("burst" in scenario) {
            resetPeakRss(server.pid);
            const burst = await withTimeout(scenario.burst(api), 300_000, `${scenario.name} burst`);
            row.measurement = { result: burstToLoad(burst), peakRssMb: peakRssMb(server.pid) };
            row.notes = burst.notes;
            continue;
          }
          const request = await withTimeout(scenario.setup(api), 60_000, `${scenario.name} setup`);
          row.measurement = await measure(
            `${scenario.name}/${database}`,
            server,
            request,
            settings,
          );
        } catch (error) {
          row.failed = message(error);
          console.log(`  failed: ${row.failed.split("\n")[0]}`);
        }
      }
    });
  } catch (error) {
    // keyport did not start (or its database could not be prepared): every scenario failed.
    for (const row of ours) row.failed ??= message(error);
    console.log(`  keyport on ${database} failed: ${message(error).split("\n")[0]}`);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  const settings = readSettings();
  const loads = 1 + settings.scenarios.length * settings.databases.length;
  // Whatever happens, the run ends: each load and each start is bounded, and so is the whole.
  const budgetSeconds =
    loads * (settings.warmupSeconds + settings.seconds + 90) + settings.databases.length * 240;
  const watchdog = setTimeout(() => {
    process.stderr.write(`harness error: the run took longer than ${budgetSeconds} s\n`);
    void withTimeout(cleanupAll(), 60_000, "cleanup")
      .catch(() => {})
      .finally(() => process.exit(1));
  }, budgetSeconds * 1_000);
  watchdog.unref();

  console.log(
    `keyport bench: ${settings.connections} connections, ${settings.warmupSeconds} s warm-up + ` +
      `${settings.seconds} s per scenario; node ${process.version}, ${os.cpus().length} CPUs ` +
      `(server and load generator share them)`,
  );
  console.log(
    `scenarios: ${settings.scenarios.map((s) => s.name).join(", ") || "none"}; ` +
      `databases: ${settings.databases.join(", ") || "none"}\n`,
  );

  const rows: Row[] = [];
  const baselineRow: Row = { scenario: "baseline (hello)", database: "-" };
  rows.push(baselineRow);
  console.log("- baseline: graphql-yoga hello world");
  const hello = await startServer("baseline server", "bench/hello-server.ts", baseEnv(), "/health");
  try {
    baselineRow.measurement = await measure("baseline", hello, baselineRequest, settings);
  } finally {
    await hello.stop();
  }
  const baseline = baselineRow.measurement.result;
  if (errorsOf(baseline) > 0 || baseline.requestsPerSecond <= 0) {
    throw new HarnessError(
      `the baseline itself had ${errorsOf(baseline)} errors: ${baseline.sampleWrongBody ?? ""}`,
    );
  }

  for (const database of settings.databases) {
    if (interrupted || settings.scenarios.length === 0) break;
    if (database === "postgres") {
      const why = await postgresUnavailable(settings.postgresServerUrl);
      if (why) {
        const skipped = `PostgreSQL at ${redact(settings.postgresServerUrl)} is unreachable: ${why}`;
        console.log(`- PostgreSQL scenarios skipped: ${skipped}`);
        for (const s of settings.scenarios) rows.push({ scenario: s.name, database, skipped });
        continue;
      }
    }
    await runScenarios(database, settings.scenarios, settings, rows);
  }

  console.log("");
  printTable(rows, baseline);
  console.log("");
  for (const target of targets) console.log(targetLine(target, rows, baseline));
  console.log(`Wall time: ${((Date.now() - started) / 1_000).toFixed(1)} s`);
  return rows.some((r) => r.failed) ? 1 : 0;
}

/** The URL without its password, for messages. */
function redact(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparsable URL)";
  }
}

let exitCode = 1;
try {
  exitCode = await main();
} catch (error) {
  if (!interrupted)
    process.stderr.write(
      `harness error: ${error instanceof HarnessError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
  exitCode = 1;
} finally {
  await withTimeout(cleanupAll(), 90_000, "cleanup").catch((error: unknown) => {
    process.stderr.write(`${message(error)}\n`);
    exitCode = 1;
  });
}
if (!interrupted) process.exit(exitCode);
