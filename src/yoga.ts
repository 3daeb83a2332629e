// Builds the keyport application: services, GraphQL over HTTP/SSE (yoga) and WebSocket
// (graphql-ws). Tests import this; src/server.ts only listens.
import { createServer, type Server } from "node:http";
import path from "node:path";
import { costLimitPlugin } from "@escape.tech/graphql-armor-cost-limit";
import { maxAliasesPlugin } from "@escape.tech/graphql-armor-max-aliases";
import { maxDepthPlugin } from "@escape.tech/graphql-armor-max-depth";
import { maxDirectivesPlugin } from "@escape.tech/graphql-armor-max-directives";
import { maxTokensPlugin } from "@escape.tech/graphql-armor-max-tokens";
import { useCSRFPrevention } from "@graphql-yoga/plugin-csrf-prevention";
import type { ExecutionArgs, execute, subscribe } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { createYoga, type Plugin, type YogaServerInstance } from "graphql-yoga";
import { WebSocketServer } from "ws";
import { type Context, createContext, type Services } from "./context.js";
import { type Database, openDatabase } from "./db.js";
import { type Config, ConfigError } from "./env.js";
import { createJwtVerifier } from "./lib/auth.js";
import { KeyRing, loadOrCreateKeyFile, parseEncryptionKeys } from "./lib/crypto.js";
import { useErrorHygiene } from "./lib/error-hygiene.js";
import { useHideSchema } from "./lib/hide-schema.js";
import { activeKeyDecrypts, checkKeyRing } from "./lib/key-check.js";
import { createLogger, type LogSink } from "./lib/logger.js";
import { createOutbound, type Outbound } from "./lib/outbound.js";
import { playgroundOptions, renderPlayground } from "./lib/playground.js";
import { useRequestLimits } from "./lib/request-limits.js";
import { handleOAuthCallback } from "./modules/authorization/authorization.routes.js";
import { type Catalog, loadCatalog } from "./modules/catalog/catalog.js";
import { Refresher } from "./modules/credentials/refresh.service.js";
import { CredentialRotation } from "./modules/credentials/rotation.service.js";
import { IdleVerifier } from "./modules/credentials/verification.service.js";
import { EventPruner } from "./modules/events/events.service.js";
import { callerWatchOf } from "./modules/subscriptions/caller-watch.js";
import { useGraphqlSse } from "./modules/subscriptions/graphql-sse.js";
import { type BootstrapResult, bootstrap } from "./modules/workspaces/workspaces.service.js";
import { createMemoryPubSub, createRedisPubSub, type PubSub } from "./pubsub.js";
import { schema } from "./schema/index.js";

export type KeyportOptions = {
  /** Use this database instead of opening the configured one (tests pass an in-memory one). */
  database?: Database;
  logSink?: LogSink;
  /** Use this outbound path instead of one built from the configuration (tests inject one with
   * their own allow list or DNS lookup). Closed with the app. */
  outbound?: Outbound;
  /** Use this event bus instead of one built from the configuration (instances in one process
   * share one, as instances on one Redis do). */
  pubsub?: PubSub;
  /** Use this provider catalog instead of loading the shipped one and PROVIDERS_DIR. */
  catalog?: Catalog;
};

export type Keyport = {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  services: Services;
  bootstrap: BootstrapResult;
  /**
   * Serves GraphQL over HTTP, SSE and WebSocket on /graphql, on `server` (one that may already
   * listen) or on a new HTTP server.
   */
  createHttpServer(server?: Server): Server;
  /**
   * Ends every running subscription with a reason: each stream gets its last event
   * (SHUTTING_DOWN) and completes, then WebSocket connections close with 1001 and a reason.
   */
  endSubscriptions(): Promise<void>;
  /** Ends subscriptions, stops background work, releases refresh leases, closes every pool. */
  close(options?: { drainMs?: number }): Promise<void>;
};

/** The close reason WebSocket clients get when the server shuts down. */
export const shutdownCloseReason = "keyport is shutting down";

export async function createKeyport(
  config: Config,
  options: KeyportOptions = {},
): Promise<Keyport> {
  const logger = createLogger(config.logLevel, options.logSink);
  // A broken catalog file stops the start before anything is opened.
  const catalog = options.catalog ?? loadCatalog({ providersDir: config.providers.dir });
  const db =
    options.database ??
    (await openDatabase(
      config.databaseUrl
        ? { kind: "postgres", url: config.databaseUrl }
        : { kind: "pglite", directory: path.join(config.dataDir, "pglite") },
    ));
  const keys = parseEncryptionKeys(
    config.encryptionKeys ?? (await loadOrCreateKeyFile(config.dataDir)),
  );
  if (keys.problems.length > 0) throw new ConfigError(keys.problems);
  const keyRing = new KeyRing(keys.keys);
  const keyProblems = await checkKeyRing(db.prisma, keyRing);
  if (keyProblems.length > 0) {
    if (!options.database) await db.close();
    throw new ConfigError(keyProblems);
  }
  const pubsub: PubSub =
    options.pubsub ??
    (config.redisUrl ? createRedisPubSub(config.redisUrl, logger) : createMemoryPubSub());
  const outbound = options.outbound ?? createOutbound(config);
  const refresher = new Refresher({
    prisma: db.prisma,
    keyRing,
    logger,
    config,
    outbound,
    pubsub,
    catalog,
  });
  const idleVerifier = new IdleVerifier({
    prisma: db.prisma,
    keyRing,
    logger,
    config,
    outbound,
    pubsub,
    catalog,
    refresher,
  });
  const eventPruner = new EventPruner(
    { prisma: db.prisma, logger },
    {
      retentionDays: config.events.retentionDays,
      intervalMs: config.events.pruneIntervalMs,
    },
  );
  const rotation = new CredentialRotation(
    { prisma: db.prisma, keyRing, logger, config, outbound, pubsub, refresher, catalog },
    { sweepIntervalMs: config.rotation.sweepIntervalMs },
  );
  const services: Services = {
    config,
    db,
    logger,
    pubsub,
    keyRing,
    refresher,
    eventPruner,
    rotation,
    outbound,
    catalog,
    idleVerifier,
    verifyJwt: createJwtVerifier({
      secret: config.auth.jwtSecret,
      jwksUrl: config.auth.jwksUrl,
      issuer: config.auth.issuer,
      audience: config.auth.audience,
      outbound,
      jwksTimeoutMs: Math.min(5_000, config.oauth.tokenRequestTimeoutMs),
    }),
  };

  const bootstrapResult = await bootstrap(db.prisma);
  refresher.startSweeper();
  eventPruner.start();
  rotation.start();
  idleVerifier.start();

  // A request whose credentials were checked early (a large body) reuses that context.
  const earlyContexts = new WeakMap<Request, Promise<Context>>();
  const allowedOrigins = new Set(config.http.allowedOrigins);
  const graphqlEndpoint = "/graphql";
  const yoga: YogaServerInstance<Record<string, unknown>, Context> = createYoga<
    Record<string, unknown>,
    Context
  >({
    schema,
    // Only ALLOWED_ORIGINS get CORS headers, each its own origin, never with credentials (callers
    // send keys in the Authorization header, not cookies); other origins get none.
    cors: (request) => {
      const origin = request.headers.get("origin");
      if (!origin || !allowedOrigins.has(origin)) return false;
      return {
        origin: [origin],
        credentials: false,
        methods: ["GET", "POST", "OPTIONS"],
        allowedHeaders: ["authorization", "content-type", "x-graphql-yoga-csrf"],
        maxAge: 600,
      };
    },
    graphqlEndpoint,
    landingPage: false,
    // Served from keyport itself, with no request elsewhere; never in production.
    graphiql: config.production ? false : playgroundOptions,
    renderGraphiQL: renderPlayground,
    // Never the original message in a response, whatever NODE_ENV says: database errors quote
    // their arguments.
    maskedErrors: { isDev: false },
    logging: {
      debug: (...args) => logger.debug(String(args[0])),
      info: (...args) => logger.info(String(args[0])),
      warn: (...args) => logger.warn(String(args[0])),
      // The logger reduces errors (database errors to class and code, never their arguments).
      error: (...args) => logger.error("graphql error", { error: args[0] }),
    },
    // HTTP requests carry the key in a header; WebSocket connections in connection_init, or in
    // the upgrade request's header (clients that can set one).
    context: (initial) =>
      (initial.request && earlyContexts.get(initial.request)) ??
      createContext(
        services,
        initial.request?.headers.get("authorization") ??
          authorizationParam(initial.connectionParams) ??
          upgradeAuthorization(initial.req),
      ),
    plugins: [
      useRequestLimits({
        maxBytes: config.http.maxRequestBytes,
        isAuthenticated: async (request) => {
          const context = createContext(services, request.headers.get("authorization"));
          earlyContexts.set(request, context);
          return (await context).caller !== null;
        },
      }),
      useErrorHygiene(),
      httpRoutes(services),
      // The graphql-sse protocol; yoga serves its own server-sent events on /graphql too.
      useGraphqlSse({
        path: `${graphqlEndpoint}/stream`,
        services,
        yoga: () => yoga,
        bufferSize: config.subscriptions.bufferSize,
      }),
      useCSRFPrevention({ requestHeaders: ["x-graphql-yoga-csrf"] }),
      // No introspection and no field suggestions, on HTTP, SSE and WebSocket alike.
      ...(config.production ? [useHideSchema()] : []),
      maxDepthPlugin({ n: 12 }),
      maxAliasesPlugin({ n: 20 }),
      maxDirectivesPlugin({ n: 20 }),
      maxTokensPlugin({ n: 3000 }),
      costLimitPlugin({ maxCost: 20_000 }),
    ],
  });

  const sockets = new Set<WebSocketServer>();
  const endSubscriptions = async () => {
    callerWatchOf(services).endAll();
    const clients = [...sockets].flatMap((socket) => [...socket.clients]);
    if (clients.length === 0) return;
    // Let the last event and `complete` messages leave before the close frame.
    await new Promise((resolve) => setTimeout(resolve, 50));
    await Promise.all(
      clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.readyState === client.CLOSED) return resolve();
            const timer = setTimeout(() => {
              client.terminate();
              resolve();
            }, 1_000);
            client.once("close", () => {
              clearTimeout(timer);
              resolve();
            });
            client.close(1001, shutdownCloseReason);
          }),
      ),
    );
  };
  return {
    yoga,
    services,
    bootstrap: bootstrapResult,
    createHttpServer(existing?: Server) {
      const server = existing ?? createServer();
      server.on("request", yoga);
      const wsServer = new WebSocketServer({
        server,
        path: yoga.graphqlEndpoint,
        maxPayload: config.http.maxRequestBytes,
      });
      sockets.add(wsServer);
      useServer(
        {
          // A connection without a valid key in connection_init's `authorization` (or the upgrade
          // request's Authorization header) is closed (4403 Forbidden) before it can run
          // anything, introspection included.
          onConnect: async (ctx) =>
            (
              await createContext(
                services,
                authorizationParam(ctx.connectionParams) ?? upgradeAuthorization(ctx.extra.request),
              )
            ).caller !== null,
          // The enveloped execute/subscribe travel on rootValue (see onSubscribe).
          execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
          subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
          onSubscribe: async (ctx, _id, params) => {
            const { schema, execute, subscribe, contextFactory, parse, validate } =
              yoga.getEnveloped({
                ...ctx,
                req: ctx.extra.request,
                socket: ctx.extra.socket,
                params,
              });
            const args = {
              schema,
              operationName: params.operationName,
              document: parse(params.query),
              variableValues: params.variables,
              contextValue: await contextFactory(),
              rootValue: { execute, subscribe },
            };
            const errors = validate(args.schema, args.document);
            if (errors.length) return errors;
            return args as never;
          },
        },
        wsServer,
      );
      return server;
    },
    endSubscriptions,
    async close(options = {}) {
      refresher.stopSweeper();
      idleVerifier.stop();
      eventPruner.stop();
      rotation.stop();
      await endSubscriptions();
      for (const socket of sockets) socket.close();
      await refresher.drain(options.drainMs ?? 0);
      await pubsub.close();
      await outbound.close();
      await db.close();
    },
  };
}

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => ReturnType<typeof execute>;
  subscribe: (args: ExecutionArgs) => ReturnType<typeof subscribe>;
};

function upgradeAuthorization(request: unknown): string | null {
  const value = (request as { headers?: Record<string, unknown> } | undefined)?.headers
    ?.authorization;
  return typeof value === "string" ? value : null;
}

function authorizationParam(params: unknown): string | null {
  const value = (params as { authorization?: unknown } | undefined)?.authorization;
  return typeof value === "string" ? value : null;
}

/** /healthz (the process answers) and /readyz (its database, and Redis when used, answer). */
function httpRoutes(services: Services): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname === "/healthz") {
        endResponse(Response.json({ status: "ok" }));
        return;
      }
      if (url.pathname === "/oauth/callback" && request.method === "GET") {
        endResponse(await handleOAuthCallback(services, url));
        return;
      }
      if (url.pathname === "/readyz") {
        const checks: Record<string, "ok" | "unavailable"> = {};
        const check = async (name: string, probe: () => Promise<void>) => {
          try {
            await withTimeout(probe(), 2_000);
            checks[name] = "ok";
          } catch {
            checks[name] = "unavailable";
          }
        };
        await check("database", () => services.db.ping());
        await check("encryption", () => activeKeyDecrypts(services.db.prisma, services.keyRing));
        if (services.pubsub.kind === "redis") await check("redis", () => services.pubsub.ping());
        const ready = Object.values(checks).every((state) => state === "ok");
        endResponse(
          Response.json(
            { status: ready ? "ready" : "unavailable", checks },
            { status: ready ? 200 : 503 },
          ),
        );
      }
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("timeout")), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
