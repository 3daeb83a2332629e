// What run.ts and the load generator (loader.ts, a separate process) exchange, as JSON.

/** One HTTP request repeated under load, and how to tell a right answer from a wrong one. */
export type LoadRequest = {
  method: "GET" | "POST";
  /** Path on the server, e.g. "/graphql". */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /**
   * A 2xx answer is right when it is JSON without `errors` and the value at `path` equals
   * `equals` (or, without `equals`, is present and not null).
   */
  expect: { path: string[]; equals?: string };
};

export type LoaderJob = {
  /** e.g. http://127.0.0.1:4123 */
  origin: string;
  request: LoadRequest;
  connections: number;
  warmupSeconds: number;
  seconds: number;
  /** Per-request timeout. */
  timeoutSeconds: number;
};

export type LoadResult = {
  /** Responses received during the measured run (not the warm-up). */
  responses: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Responses with a status outside 2xx, by status. */
  non2xx: number;
  statusCodes: Record<string, number>;
  /** Connection errors, timeouts included. */
  socketErrors: number;
  timeouts: number;
  /** 2xx answers whose body was not the expected one. */
  wrongBodies: number;
  /** The first wrong answer (2xx or not), shortened, to tell what went wrong. */
  sampleWrongBody: string | null;
};

/** The loader prints its result as one stdout line starting with this marker. */
export const resultMarker = "BENCH_RESULT ";
