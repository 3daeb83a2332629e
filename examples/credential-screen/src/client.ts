// How the screen talks to keyport: queries and mutations as JSON POSTs to /graphql, credential
// events over graphql-ws on the same path. The connect token travels in the Authorization header
// (HTTP) and in connection_init's `authorization` (WebSocket); it lives in memory only.
import { type Client, createClient } from "graphql-ws";
import type { TypedDocumentString } from "./gql/graphql.js";

export class GraphQLRequestError extends Error {
  override name = "GraphQLRequestError";
  constructor(
    message: string,
    /** extensions.code of the first error, e.g. UNAUTHENTICATED or FORBIDDEN. */
    readonly code: string | null,
  ) {
    super(message);
  }
}

type GraphQLResponse<T> = {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string } }[];
};

export type KeyportClient = {
  /** The keyport origin, e.g. https://keyport.example.com (the OAuth callback page's origin). */
  origin: string;
  request<Result, Variables>(
    document: TypedDocumentString<Result, Variables>,
    variables: Variables,
  ): Promise<Result>;
  subscribe<Result, Variables>(
    document: TypedDocumentString<Result, Variables>,
    variables: Variables,
    onData: (data: Result) => void,
    onError: (error: Error) => void,
  ): () => void;
  /** Fires with true once the event stream is connected, false while it reconnects. */
  onLive(listener: (live: boolean) => void): () => void;
  dispose(): void;
};

export function createKeyportClient(keyportUrl: string, token: string): KeyportClient {
  const base = new URL(keyportUrl);
  const httpUrl = new URL("/graphql", base).href;
  const wsUrl = httpUrl.replace(/^http/, "ws");
  const liveListeners = new Set<(live: boolean) => void>();
  const setLive = (live: boolean) => {
    for (const listener of liveListeners) listener(live);
  };

  let ws: Client | null = null;
  const wsClient = () => {
    ws ??= createClient({
      url: wsUrl,
      connectionParams: { authorization: `Bearer ${token}` },
      // Reconnects after network blips; an expired or rejected token closes with 4403 for good.
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: (event) => !(event instanceof CloseEvent && event.code === 4403),
      on: {
        connected: () => setLive(true),
        closed: () => setLive(false),
      },
    });
    return ws;
  };

  return {
    origin: base.origin,
    async request(document, variables) {
      const response = await fetch(httpUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/graphql-response+json, application/json",
          authorization: `Bearer ${token}`,
        },
        body: JSON.stringify({ query: document.toString(), variables }),
      });
      const body = (await response.json().catch(() => null)) as GraphQLResponse<never> | null;
      const first = body?.errors?.[0];
      if (first) throw new GraphQLRequestError(first.message, first.extensions?.code ?? null);
      if (!response.ok || !body?.data) {
        throw new GraphQLRequestError(`keyport answered ${response.status}`, null);
      }
      // The document's type says what the data holds.
      return body.data;
    },
    subscribe(document, variables, onData, onError) {
      return wsClient().subscribe<never>(
        { query: document.toString(), variables: variables as Record<string, unknown> },
        {
          next: (result) => {
            const first = result.errors?.[0];
            if (first) onError(new GraphQLRequestError(first.message, null));
            else if (result.data) onData(result.data);
          },
          error: (error) =>
            onError(
              error instanceof Error
                ? error
                : new Error(
                    error instanceof CloseEvent
                      ? `event stream closed (${error.code} ${error.reason})`
                      : "event stream failed",
                  ),
            ),
          complete: () => {},
        },
      );
    },
    onLive(listener) {
      liveListeners.add(listener);
      return () => liveListeners.delete(listener);
    },
    dispose() {
      void ws?.dispose();
      ws = null;
    },
  };
}
