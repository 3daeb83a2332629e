// Per-request context: the shared services and the authenticated caller.

import type { Database, PrismaClient } from "./db.js";
import type { Config } from "./env.js";
import {
  effectiveScopes,
  hashApiKey,
  JwtRejected,
  type JwtVerifier,
  looksLikeApiKey,
  type Scope,
} from "./lib/auth.js";
import type { KeyRing } from "./lib/crypto.js";
import type { Logger } from "./lib/logger.js";
import type { Outbound } from "./lib/outbound.js";
import type { Catalog } from "./modules/catalog/catalog.js";
import type { Refresher } from "./modules/credentials/refresh.service.js";
import type { IdleVerifier } from "./modules/credentials/verification.service.js";
import type { EventPruner } from "./modules/events/events.service.js";
import type { PubSub } from "./pubsub.js";

export type Caller = {
  kind: "apiKey" | "jwt";
  /** Who acts, as written to audit entries: `apiKey:<id>` or `jwt:<sub>`. */
  actor: string;
  subject: string | null;
  workspaceId: string;
  /** An API key may be limited to one environment. */
  environmentId: string | null;
  apiKeyId: string | null;
  /** When a JWT stops being accepted; null for API keys (valid until revoked). */
  expiresAt: Date | null;
  /** Scopes as granted (shown by `viewer.scopes`). */
  grantedScopes: string[];
  /** Granted scopes with `admin` expanded; what access checks use. */
  scopes: Set<Scope>;
};

export interface Services {
  config: Config;
  db: Database;
  logger: Logger;
  pubsub: PubSub;
  keyRing: KeyRing;
  refresher: Refresher;
  /** Deletes credential events past EVENT_RETENTION_DAYS, in the background. */
  eventPruner: EventPruner;
  verifyJwt: JwtVerifier | null;
  /** The one path for outbound HTTP requests, with the address policy from OUTBOUND_ALLOW. */
  outbound: Outbound;
  /** The provider catalog, loaded once at start. */
  catalog: Catalog;
  /** Re-checks idle static credentials with their provider, in the background. */
  idleVerifier: IdleVerifier;
}

export type Context = {
  services: Services;
  prisma: PrismaClient;
  caller: Caller | null;
  /** Why a presented credential was refused; surfaces as the UNAUTHENTICATED message. */
  authFailure: string | null;
};

// lastUsedAt is informational; writing it at most once a minute keeps reads cheap.
const lastUsedWriteIntervalMs = 60_000;

type ApiKeyRow = {
  id: string;
  workspaceId: string;
  environmentId: string | null;
  scopes: string[];
  lastUsedAt: Date | null;
  revokedAt: Date | null;
};
const apiKeyByHashSql = `SELECT "id", "workspaceId", "environmentId", "scopes", "lastUsedAt", "revokedAt"
  FROM "ApiKey" WHERE "hash" = $1`;
const workspaceBySlugSql = `SELECT "id" FROM "Workspace" WHERE "slug" = $1`;

export async function createContext(
  services: Services,
  authorization: string | null | undefined,
): Promise<Context> {
  const base = { services, prisma: services.db.prisma };
  if (!authorization) return { ...base, caller: null, authFailure: null };
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  if (!match?.[1]) {
    return {
      ...base,
      caller: null,
      authFailure: "Malformed Authorization header: use Bearer <token>.",
    };
  }
  const token = match[1];
  const caller = looksLikeApiKey(token)
    ? await callerFromApiKey(services, token)
    : await callerFromJwt(services, token);
  if (typeof caller === "string") return { ...base, caller: null, authFailure: caller };
  return { ...base, caller, authFailure: null };
}

async function callerFromApiKey(services: Services, key: string): Promise<Caller | string> {
  // Read on every request (a revocation takes effect on the next one, on every instance), so it
  // goes straight to the driver: Prisma's per-query cost is most of a request's time otherwise.
  const [row] = await services.db.query<ApiKeyRow>(apiKeyByHashSql, [hashApiKey(key)]);
  if (!row || row.revokedAt) return "Invalid or revoked API key.";
  const now = Date.now();
  if (!row.lastUsedAt || now - row.lastUsedAt.getTime() > lastUsedWriteIntervalMs) {
    services.db.prisma.apiKey
      .updateMany({
        where: {
          id: row.id,
          OR: [
            { lastUsedAt: null },
            { lastUsedAt: { lt: new Date(now - lastUsedWriteIntervalMs) } },
          ],
        },
        data: { lastUsedAt: new Date(now) },
      })
      .catch((error: unknown) =>
        services.logger.warn("could not record API key use", { apiKeyId: row.id, error }),
      );
  }
  return {
    kind: "apiKey",
    actor: `apiKey:${row.id}`,
    subject: null,
    workspaceId: row.workspaceId,
    environmentId: row.environmentId,
    apiKeyId: row.id,
    expiresAt: null,
    grantedScopes: row.scopes,
    scopes: effectiveScopes(row.scopes),
  };
}

async function callerFromJwt(services: Services, token: string): Promise<Caller | string> {
  if (!services.verifyJwt) return "Invalid API key; JWT authentication is not configured.";
  let claims: Awaited<ReturnType<JwtVerifier>>;
  try {
    claims = await services.verifyJwt(token);
  } catch (error) {
    const reason = error instanceof JwtRejected ? error.message : "invalid token";
    return `Invalid token (${reason}).`;
  }
  // Every JWT request resolves its workspace; like the API key read, it skips Prisma.
  const [workspace] = await services.db.query<{ id: string }>(workspaceBySlugSql, [
    claims.workspaceSlug,
  ]);
  if (!workspace) return "Invalid token (unknown workspace).";
  return {
    kind: "jwt",
    actor: `jwt:${claims.subject}`,
    subject: claims.subject || null,
    workspaceId: workspace.id,
    environmentId: null,
    apiKeyId: null,
    expiresAt: claims.expiresAt,
    grantedScopes: claims.scopes.filter((s) => effectiveScopes([s]).size > 0),
    scopes: effectiveScopes(claims.scopes),
  };
}

/** What domain services use: the shared services and the database client. */
export type ServiceDeps = Pick<
  Services,
  "keyRing" | "logger" | "config" | "refresher" | "outbound" | "pubsub" | "catalog"
> & {
  prisma: PrismaClient;
};

export function serviceDepsOf(services: Services): ServiceDeps {
  const { keyRing, logger, config, refresher, outbound, pubsub, catalog } = services;
  return {
    prisma: services.db.prisma,
    keyRing,
    logger,
    config,
    refresher,
    outbound,
    pubsub,
    catalog,
  };
}

/**
 * Where clause limiting a query to the caller's workspace and, for a key limited to one
 * environment, to that environment. Credentials, connectors and API keys all use it.
 */
export function callerScope(caller: Pick<Caller, "workspaceId" | "environmentId">) {
  return {
    workspaceId: caller.workspaceId,
    ...(caller.environmentId ? { environmentId: caller.environmentId } : {}),
  };
}

/** The caller of a field whose auth rule already requires one. */
export function callerOf(context: Context): Caller {
  if (!context.caller) throw new Error("this field requires an authenticated caller");
  return context.caller;
}
