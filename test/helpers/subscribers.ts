// Subscribes the way connector services do: with the graphql-sse client (its single connection
// mode on /graphql/stream, its distinct connections mode on yoga's own /graphql) and with the
// graphql-ws client. Each subscription collects what it receives until disposed.
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { type ExecutionResult, print } from "graphql";
import { createClient as createSseClient } from "graphql-sse";
import { createClient as createWsClient } from "graphql-ws";
import WebSocket from "ws";

export type Transport = "sse-single" | "sse-distinct" | "sse-yoga" | "ws";
export const transports: Transport[] = ["sse-single", "sse-distinct", "sse-yoga", "ws"];

export type Collected<Result> = {
  results: ExecutionResult<Result>[];
  /** Data of results without errors. */
  data: Result[];
  errors: ExecutionResult<Result>["errors"][];
  /** Resolves when the stream completed or failed (with the failure, if any). */
  ended: Promise<unknown>;
  isEnded(): boolean;
  /** Resolves once `count` results arrived (rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<void>;
  dispose(): Promise<void>;
};

export function subscribe<Result, Variables>(
  transport: Transport,
  origin: string,
  key: string,
  document: TypedDocumentNode<Result, Variables>,
  variables: Variables,
): Collected<Result> {
  const results: ExecutionResult<Result>[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let ended = false;
  let resolveEnded: (value: unknown) => void = () => {};
  const endedPromise = new Promise<unknown>((resolve) => {
    resolveEnded = resolve;
  });
  const finish = (value: unknown) => {
    ended = true;
    resolveEnded(value);
  };
  const onResult = (result: ExecutionResult<Result>) => {
    results.push(result);
    for (const waiter of [...waiters]) {
      if (results.length >= waiter.count) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const sink = {
    next: (value: unknown) => onResult(value as ExecutionResult<Result>),
    error: (error: unknown) => finish(error ?? new Error("stream failed")),
    complete: () => finish(null),
  };
  const request = { query: print(document), variables: variables as Record<string, unknown> };
  let dispose: () => Promise<void>;
  if (transport === "ws") {
    const client = createWsClient({
      url: `${origin.replace(/^http/, "ws")}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${key}` },
      retryAttempts: 0,
      lazy: true,
    });
    const unsubscribe = client.subscribe(request, sink);
    dispose = async () => {
      unsubscribe();
      await client.dispose();
    };
  } else {
    const client = createSseClient({
      url: `${origin}${transport === "sse-single" ? "/graphql/stream" : "/graphql"}`,
      headers: { authorization: `Bearer ${key}` },
      singleConnection: transport === "sse-single",
      retryAttempts: 0,
    });
    const unsubscribe = client.subscribe(request, sink);
    dispose = async () => {
      unsubscribe();
      client.dispose();
    };
  }
  return {
    results,
    get data() {
      return results.filter((r) => !r.errors?.length && r.data).map((r) => r.data as Result);
    },
    get errors() {
      return results.filter((r) => r.errors?.length).map((r) => r.errors);
    },
    ended: endedPromise,
    isEnded: () => ended,
    waitFor(count, timeoutMs = 15_000) {
      if (results.length >= count) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(new Error(`expected ${count} results over ${transport}, got ${results.length}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    dispose: () => dispose(),
  };
}

/** Polls `check` until it holds (or fails after `timeoutMs`). */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
