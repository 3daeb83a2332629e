// Per-request context: the shared services and the authenticated caller.

import type { Database, PrismaClient } from "./db.js";
import type { Config } from "./env.js";
import {
  connectTokenPrefix,
  effectiveScopes,
  hashApiKey,
  hashConnectToken,
  JwtRejected,
  type JwtVerifier,
  looksLikeApiKey,
  looksLikeConnectToken,
  type Scope,
} from "./lib/auth.js";
import type { KeyRing } from "./lib/crypto.js";
import type { Logger } from "./lib/logger.js";
import type { Outbound } from "./lib/outbound.js";
import type { Catalog } from "./modules/catalog/catalog.js";
import type { Refresher } from "./modules/credentials/refresh.service.js";
import type { CredentialRotation } from "./modules/credentials/rotation.service.js";
import type { IdleVerifier } from "./modules/credentials/verification.service.js";
import type { EventPruner } from "./modules/events/events.service.js";
import type { PubSub } from "./pubsub.js";

/** What a connect session (a `kpcs_` token) is limited to, on top of its environment. */
export type ConnectLimits = {
  sessionId: string;
  /** The one end user whose credentials the session may see and manage. */
  externalUserId: string;
  /** When not empty, only credentials of these providers. */
  providerKeys: string[];
  /** When the token stops being accepted. */
  expiresAt: Date;
};

export type Caller = {
  kind: "apiKey" | "jwt" | "connectSession";
  /** Who acts, as written to audit entries: `apiKey:<id>`, `jwt:<sub>` or `connectSession:<id>`. */
  actor: string;
  subject: string | null;
  workspaceId: string;
  /** An API key may be limited to one environment. */
  environmentId: string | null;
  apiKeyId: string | null;
  /** When a JWT stops being accepted; null for API keys (valid until revoked). */
  expiresAt: Date | null;
  /** The end-user limits of a connect session; null for API keys and JWTs. */
  connect: ConnectLimits | null;
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
  /** Secret rotation and rollback; deletes expired previous secrets in the background. */
  rotation: CredentialRotation;
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
const connectSessionByHashSql = `SELECT "id", "workspaceId", "environmentId", "externalUserId",
  "providerKeys", "expiresAt" FROM "ConnectSession" WHERE "hash" = $1`;
type ConnectSessionRow = {
  id: string;
  workspaceId: string;
  environmentId: string;
  externalUserId: string;
  providerKeys: string[];
  expiresAt: Date;
};
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
  const caller = token.startsWith(connectTokenPrefix)
    ? await callerFromConnectToken(services, token)
    : looksLikeApiKey(token)
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
    connect: null,
    grantedScopes: row.scopes,
    scopes: effectiveScopes(row.scopes),
  };
}

async function callerFromConnectToken(services: Services, token: string): Promise<Caller | string> {
  const refused = "Invalid or expired connect token.";
  if (!looksLikeConnectToken(token)) return refused;
  // Read on every request, like API keys: an expired session stops working at once.
  const [row] = await services.db.query<ConnectSessionRow>(connectSessionByHashSql, [
    hashConnectToken(token),
  ]);
  if (!row) return refused;
  const expiresAt = new Date(row.expiresAt);
  if (expiresAt.getTime() <= Date.now()) return refused;
  return {
    kind: "connectSession",
    actor: `connectSession:${row.id}`,
    subject: null,
    workspaceId: row.workspaceId,
    environmentId: row.environmentId,
    apiKeyId: null,
    expiresAt,
    connect: {
      sessionId: row.id,
      externalUserId: row.externalUserId,
      providerKeys: row.providerKeys ?? [],
      expiresAt,
    },
    grantedScopes: ["connect"],
    scopes: new Set<Scope>(["connect"]),
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
    connect: null,
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

type ScopedCaller = Pick<Caller, "workspaceId" | "environmentId" | "connect">;

/**
 * Where clause for credentials: the caller's workspace and environment (`callerScope`) and, for a
 * connect session, its end user and (when listed) its providers. Every path to a credential
 * (`credential`, `credentials`, `node`, nested fields, mutations, events) goes through it, so a
 * credential outside a session's limits behaves exactly like one that does not exist.
 */
export function credentialScope(caller: ScopedCaller) {
  const { connect } = caller;
  if (!connect) return callerScope(caller);
  return {
    ...callerScope(caller),
    externalUserId: connect.externalUserId,
    ...(connect.providerKeys.length > 0 ? { providerKey: { in: connect.providerKeys } } : {}),
  };
}

/** Where clause for connectors: a connect session sees only those of its own credentials. */
export function connectorScope(caller: ScopedCaller) {
  if (!caller.connect) return callerScope(caller);
  return { ...callerScope(caller), credential: { is: credentialScope(caller) } };
}

/** Where clause for API keys: a connect session sees none. */
export function apiKeyScope(caller: ScopedCaller) {
  if (!caller.connect) return callerScope(caller);
  return { ...callerScope(caller), id: { in: [] as string[] } };
}

/** Whether a credential event belongs to what the caller may see (live events; see eventScope). */
export function eventVisibleTo(
  caller: ScopedCaller,
  event: {
    workspaceId: string;
    environmentId: string;
    externalUserId?: string | null;
    providerKey?: string | null;
  },
): boolean {
  if (event.workspaceId !== caller.workspaceId) return false;
  if (caller.environmentId !== null && event.environmentId !== caller.environmentId) return false;
  const { connect } = caller;
  if (!connect) return true;
  return (
    event.externalUserId === connect.externalUserId &&
    (connect.providerKeys.length === 0 ||
      (typeof event.providerKey === "string" && connect.providerKeys.includes(event.providerKey)))
  );
}

/** Where clause for stored credential events, the same limits as eventVisibleTo. */
export function eventScope(caller: ScopedCaller) {
  const { connect } = caller;
  return {
    ...callerScope(caller),
    ...(connect
      ? {
          externalUserId: connect.externalUserId,
          ...(connect.providerKeys.length > 0 ? { providerKey: { in: connect.providerKeys } } : {}),
        }
      : {}),
  };
}

/** The caller of a field whose auth rule already requires one. */
export function callerOf(context: Context): Caller {
  if (!context.caller) throw new Error("this field requires an authenticated caller");
  return context.caller;
}
