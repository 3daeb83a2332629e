// Request limits, enforced before anything is parsed: the body size (Content-Length, and the bytes
// actually received, for chunked bodies too), a smaller size for callers without valid
// credentials, JSON bodies only, and a nesting depth found by a linear scan (no recursion). A
// malformed body gets a fixed message: the parser's own message quotes the body.
import { GraphQLError } from "graphql";
import type { Plugin } from "graphql-yoga";

/** Largest body a caller without valid credentials may send. */
export const unauthenticatedMaxBytes = 16 * 1024;
/** Deepest nesting of objects and arrays in a request body or in variables. */
export const maxJsonDepth = 32;

export type RequestLimitOptions = {
  maxBytes: number;
  /** Whether the request carries valid credentials; asked only for bodies above the small limit. */
  isAuthenticated(request: Request): Promise<boolean>;
};

type FetchAPI = { Response: typeof Response; Request: typeof Request };

function refuse(fetchAPI: FetchAPI, status: number, code: string, message: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** Reads at most `limit` bytes; null when the body is longer. */
async function readLimited(
  body: ReadableStream<Uint8Array>,
  limit: number,
): Promise<Uint8Array | null> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Whether JSON text nests objects and arrays deeper than `limit`; one pass, no recursion. */
export function jsonNestsDeeperThan(bytes: Uint8Array, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (inString) {
      if (byte === 0x5c)
        i++; // backslash: skip the escaped character
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      depth++;
      if (depth > limit) return true;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return false;
}

/** The same check on parsed values (WebSocket messages), iterative. */
export function valueNestsDeeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== "object" || current === null) continue;
    if (depth + 1 > limit) return true;
    for (const entry of Object.values(current)) stack.push([entry, depth + 1]);
  }
  return false;
}

const tooDeep = `The request nests objects and arrays deeper than ${maxJsonDepth} levels.`;
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

export function useRequestLimits(options: RequestLimitOptions): Plugin {
  const { maxBytes } = options;
  const smallLimit = Math.min(unauthenticatedMaxBytes, maxBytes);
  const parsedBodies = new WeakMap<Request, unknown>();
  const tooLarge = `The request body is larger than ${maxBytes} bytes.`;
  const unauthenticatedTooLarge = `Requests without valid credentials may carry at most ${smallLimit} bytes.`;

  return {
    async onRequest({ request, setRequest, endResponse, fetchAPI, url }) {
      if (request.method === "GET" || request.method === "HEAD" || request.method === "OPTIONS") {
        for (const name of ["variables", "extensions"]) {
          const value = url.searchParams.get(name);
          if (value && jsonNestsDeeperThan(encoder.encode(value), maxJsonDepth)) {
            endResponse(refuse(fetchAPI, 400, "BAD_REQUEST", tooDeep));
            return;
          }
        }
        return;
      }
      const declared = Number(request.headers.get("content-length") ?? Number.NaN);
      // An empty body (graphql-sse's PUT reservation and DELETE) has nothing to limit.
      if (!request.body || declared === 0) return;
      const authorization = request.headers.get("authorization");
      if (declared > maxBytes) {
        endResponse(refuse(fetchAPI, 413, "PAYLOAD_TOO_LARGE", tooLarge));
        return;
      }
      if (!authorization && declared > smallLimit) {
        endResponse(refuse(fetchAPI, 413, "PAYLOAD_TOO_LARGE", unauthenticatedTooLarge));
        return;
      }
      const contentType = request.headers.get("content-type") ?? "";
      if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType)) {
        endResponse(
          refuse(fetchAPI, 415, "UNSUPPORTED_MEDIA_TYPE", "Send the request as application/json."),
        );
        return;
      }
      const bytes = await readLimited(request.body, authorization ? maxBytes : smallLimit);
      if (!bytes) {
        const message = authorization ? tooLarge : unauthenticatedTooLarge;
        endResponse(refuse(fetchAPI, 413, "PAYLOAD_TOO_LARGE", message));
        return;
      }
      if (jsonNestsDeeperThan(bytes, maxJsonDepth)) {
        endResponse(refuse(fetchAPI, 400, "BAD_REQUEST", tooDeep));
        return;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(decoder.decode(bytes));
      } catch {
        endResponse(refuse(fetchAPI, 400, "BAD_REQUEST", "The request body is not valid JSON."));
        return;
      }
      const next = new fetchAPI.Request(request.url, {
        method: request.method,
        headers: request.headers,
        body: bytes as unknown as BodyInit,
        signal: request.signal,
      });
      parsedBodies.set(next, parsed);
      setRequest(next);
      if (bytes.byteLength > smallLimit && !(await options.isAuthenticated(next))) {
        endResponse(refuse(fetchAPI, 413, "PAYLOAD_TOO_LARGE", unauthenticatedTooLarge));
      }
    },
    // The body was parsed above; yoga validates the parameters as usual.
    onRequestParse({ request, setRequestParser }) {
      if (parsedBodies.has(request)) setRequestParser(() => parsedBodies.get(request) as never);
    },
    // WebSocket messages do not pass onRequest: their variables are checked here.
    onExecute({ args, setResultAndStopExecution }) {
      if (valueNestsDeeperThan(args.variableValues, maxJsonDepth)) {
        setResultAndStopExecution({ errors: [new GraphQLError(tooDeep)] });
      }
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      if (valueNestsDeeperThan(args.variableValues, maxJsonDepth)) {
        setResultAndStopExecution({ errors: [new GraphQLError(tooDeep)] });
      }
    },
  };
}
