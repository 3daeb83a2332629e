// The load generator, run by run.ts as its own process so that it does not share an event loop
// with the server it measures. Reads a LoaderJob from BENCH_LOADER_JOB, runs a warm-up and then
// the measured run with autocannon, and prints one LoadResult line to stdout.
import autocannon from "autocannon";
import { type LoaderJob, type LoadResult, resultMarker } from "./types.js";

const job = JSON.parse(process.env.BENCH_LOADER_JOB ?? "null") as LoaderJob | null;
if (!job) {
  process.stderr.write("loader: BENCH_LOADER_JOB is not set\n");
  process.exit(2);
}

// run.ts holds our stdin open; if it goes away (even killed), stop loading its servers.
process.stdin.on("end", () => process.exit(3));
process.stdin.on("error", () => process.exit(3));
process.stdin.resume();

type Tally = {
  latencies: number[];
  wrongBodies: number;
  sampleWrongBody: string | null;
};

function valueAt(value: unknown, path: string[]): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[key];
  }
  return current;
}

function isExpected(body: string, expect: LoaderJob["request"]["expect"]): boolean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return false;
  }
  if (valueAt(parsed, ["errors"]) !== undefined) return false;
  const value = valueAt(parsed, expect.path);
  return expect.equals === undefined
    ? value !== undefined && value !== null
    : value === expect.equals;
}

function load(spec: LoaderJob, seconds: number, tally: Tally): Promise<autocannon.Result> {
  const { request } = spec;
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: spec.origin,
        connections: spec.connections,
        duration: seconds,
        timeout: spec.timeoutSeconds,
        requests: [
          {
            method: request.method,
            path: request.path,
            headers: request.headers,
            ...(request.body === undefined ? {} : { body: request.body }),
            onResponse: (status, body) => {
              const ok = status >= 200 && status < 300;
              if (ok && isExpected(body, request.expect)) return;
              if (ok) tally.wrongBodies++;
              tally.sampleWrongBody ??= `HTTP ${status}: ${body.slice(0, 300)}`;
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : resolve(result)),
    );
    // autocannon's own latency histogram has 1 ms resolution; keep the exact times instead.
    instance.on("response", (_client, _status, _bytes, responseTime) => {
      tally.latencies.push(responseTime);
    });
  });
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

async function main(spec: LoaderJob) {
  if (spec.warmupSeconds > 0) {
    await load(spec, spec.warmupSeconds, { latencies: [], wrongBodies: 0, sampleWrongBody: null });
  }
  const tally: Tally = { latencies: [], wrongBodies: 0, sampleWrongBody: null };
  const result = await load(spec, spec.seconds, tally);
  const sorted = Float64Array.from(tally.latencies).sort();
  const statusCodes: Record<string, number> = {};
  for (const [code, stats] of Object.entries(result.statusCodeStats ?? {})) {
    statusCodes[code] = stats.count ?? 0;
  }
  const output: LoadResult = {
    responses: sorted.length,
    durationSeconds: result.duration,
    requestsPerSecond: result.duration > 0 ? sorted.length / result.duration : 0,
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    non2xx: result.non2xx,
    statusCodes,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    wrongBodies: tally.wrongBodies,
    sampleWrongBody: tally.sampleWrongBody,
  };
  process.stdout.write(`${resultMarker}${JSON.stringify(output)}\n`, () => process.exit(0));
}

main(job).catch((error: unknown) => {
  process.stderr.write(`loader failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
