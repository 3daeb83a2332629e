// The graphql-sse protocol (single connection and distinct connections modes) on its own path,
// beside yoga's built-in server-sent events on /graphql. Operations run through yoga's enveloped
// schema, plugins and context, exactly like HTTP and WebSocket requests.
import { randomBytes } from "node:crypto";
import type { ExecutionArgs, execute, subscribe } from "graphql";
import { createHandler, type OperationArgs, type Request as SseRequest } from "graphql-sse";
import type { Plugin, YogaServerInstance } from "graphql-yoga";
import { type Context, createContext, type Services } from "../../context.js";

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => ReturnType<typeof execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof subscribe>;
};

const tokenHeader = "x-graphql-event-stream-token";
// A reserved stream nobody connects to is forgotten after this long.
const reservationTtlMs = 60_000;

export function useGraphqlSse(options: {
  path: string;
  services: Services;
  yoga: () => YogaServerInstance<Record<string, unknown>, Context>;
  /** Messages held for a client that is not reading; one more closes its stream. */
  bufferSize: number;
}): Plugin {
  // Single connection mode: a stream token belongs to the caller that reserved it, so nobody
  // else can run operations on (or read from) another caller's stream.
  const owners = new Map<string, { actor: string; reservedAt: number; connected: boolean }>();
  const sweep = setInterval(() => {
    const cutoff = Date.now() - reservationTtlMs;
    for (const [token, owner] of owners) {
      if (!owner.connected && owner.reservedAt < cutoff) owners.delete(token);
    }
  }, reservationTtlMs);
  sweep.unref();

  // graphql-sse's own response shape: [body, init].
  const unauthenticated = (message: string) =>
    [
      JSON.stringify({ errors: [{ message, extensions: { code: "UNAUTHENTICATED" } }] }),
      {
        status: 401,
        statusText: "Unauthorized",
        headers: { "content-type": "application/json; charset=utf-8" },
      },
    ] as const;

  const handler = createHandler<Request, { serverContext: Record<string, unknown> }, Context>({
    authenticate: async (req) => {
      const context = await createContext(
        options.services,
        req.headers.get("authorization") ?? null,
      );
      if (!context.caller) {
        return unauthenticated(
          context.authFailure ??
            "Authentication required: send Authorization: Bearer <API key or JWT>.",
        ) as never;
      }
      const presented =
        req.headers.get(tokenHeader) ??
        new URL(req.url, "http://localhost").searchParams.get("token");
      if (presented) {
        const owner = owners.get(presented);
        if (owner && owner.actor !== context.caller.actor) {
          return ["Stream not found", { status: 404, statusText: "Not Found" }] as never;
        }
        return presented;
      }
      const token = randomBytes(24).toString("base64url");
      if (req.method === "PUT") {
        owners.set(token, {
          actor: context.caller.actor,
          reservedAt: Date.now(),
          connected: false,
        });
      }
      return token;
    },
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args) as never,
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args) as never,
    onSubscribe: async (
      req: SseRequest<Request, { serverContext: Record<string, unknown> }>,
      params,
    ) => {
      const request = req.raw;
      const { schema, execute, subscribe, contextFactory, parse, validate } = options
        .yoga()
        .getEnveloped({ ...req.context.serverContext, request, params });
      const document = parse(params.query);
      const errors = validate(schema, document);
      if (errors.length) return { errors } as never;
      const args: OperationArgs<Context> = {
        schema,
        operationName: params.operationName ?? null,
        document,
        variableValues: params.variables ?? null,
        contextValue: (await contextFactory()) as unknown as Context,
        rootValue: { execute, subscribe },
      } as never;
      return args;
    },
  });

  return {
    async onRequest({ request, url, endResponse, serverContext }) {
      if (url.pathname !== options.path) return;
      const [body, init] = await handler({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: () => request.text(),
        raw: request,
        context: { serverContext: (serverContext ?? {}) as Record<string, unknown> },
      });
      if (!body || typeof body === "string") {
        endResponse(new Response(body ?? null, init));
        return;
      }
      const token = request.headers.get(tokenHeader);
      const owner = token ? owners.get(token) : undefined;
      if (owner) owner.connected = true;
      const socket = (serverContext as { req?: { socket?: { destroy?: () => void } } } | undefined)
        ?.req?.socket;
      endResponse(
        new Response(
          bounded(body, options.bufferSize, {
            onClose: () => token && owners.delete(token),
            // A client that stopped reading cannot be told anything more: drop its connection.
            onOverflow: () => socket?.destroy?.(),
          }),
          init,
        ),
      );
    },
  };
}

/**
 * The handler queues messages without limit; this reads them at once into a fixed buffer that the
 * response drains at the client's pace. A client that stops reading loses its stream (and resumes
 * with `after`) instead of growing the server's memory.
 */
function bounded(
  source: AsyncGenerator<string, void, undefined>,
  limit: number,
  { onClose, onOverflow }: { onClose: () => void; onOverflow: () => void },
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const queue: string[] = [];
  let done = false;
  let wake = null as (() => void) | null;
  const signal = () => {
    const resolve = wake;
    wake = null;
    resolve?.();
  };
  const stop = () => {
    if (done) return;
    done = true;
    queue.length = 0;
    void source.return(undefined).catch(() => {});
    onClose();
    signal();
  };
  void (async () => {
    try {
      for await (const message of source) {
        if (done) return;
        if (queue.length >= limit) {
          stop();
          onOverflow();
          return;
        }
        queue.push(message);
        signal();
      }
    } catch {
      // the handler ended the stream with an error
    }
    if (!done) {
      done = true;
      onClose();
      signal();
    }
  })();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        while (queue.length === 0 && !done) {
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
        }
        const message = queue.shift();
        if (message !== undefined) controller.enqueue(encoder.encode(message));
        else controller.close();
      },
      cancel() {
        stop();
      },
    },
    { highWaterMark: 0 },
  );
}
