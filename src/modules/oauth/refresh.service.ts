// Token refresh as a locked side effect. "Should we refresh" is the pure shouldRefresh(); the
// refresh itself runs only while holding a lease row in the shared database, and its result is
// written with a compare-and-set on the credential's version, so across every instance there is
// one refresh per credential at a time and a holder whose lease lapsed cannot overwrite newer
// tokens.
import { randomBytes } from "node:crypto";
import type { ServiceDeps } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import type { Outbound } from "../../lib/outbound.js";
import { recordAudit } from "../audit/audit.service.js";
import { CredentialProviderError } from "../credentials/credentials.errors.js";
import type { ClientCredentialsSettings } from "../credentials/kinds/client-credentials.js";
import type { CredentialStatus } from "../credentials/kinds/common.js";
import { settingsOf } from "../credentials/kinds/index.js";
import type { OAuth2Settings } from "../credentials/kinds/oauth2.js";
import { encryptSecretRows, upsertSecretRows } from "../credentials/secret-rows.js";
import { DiscoveryError, resolveEndpoints } from "./discovery.js";
import {
  type Attempt,
  type CredentialEventType,
  type RecordEvent,
  withCredentialEvents,
} from "./history.js";
import {
  grantedScopesOf,
  insufficientScopesMessage,
  missingScopesOf,
  scopeSpellingFor,
} from "./scopes.js";
import { shouldRefresh } from "./should-refresh.js";
import {
  type ClientAuthentication,
  maxRequestDurationMs,
  requestToken,
  type TokenAttempt,
  TokenEndpointError,
  type TokenResponse,
} from "./token-client.js";

type Deps = Omit<ServiceDeps, "refresher">;

export const maxTokenAttempts = 3;
const waitPollMs = 50;

/** A lease outlives every attempt of one refresh (timeouts, backoff and Retry-After waits), so
 * it never lapses under a healthy holder. */
export function leaseDurationMs(tokenRequestTimeoutMs: number): number {
  return maxRequestDurationMs(tokenRequestTimeoutMs, maxTokenAttempts) + 5_000;
}

type CredentialRow = Prisma.CredentialGetPayload<{ include: { secrets: true } }>;

function secretFields(row: CredentialRow): Set<string> {
  return new Set(row.secrets.filter((s) => s.retainUntil === null).map((s) => s.field));
}

export function refreshDecision(row: CredentialRow, minValiditySeconds: number, now = new Date()) {
  const fields = secretFields(row);
  return shouldRefresh(
    {
      kind: row.kind as "OAUTH2" | "CLIENT_CREDENTIALS" | "BEARER",
      status: row.status,
      hasAccessToken: fields.has("accessToken"),
      hasRefreshToken: fields.has("refreshToken"),
      expiresAt: row.expiresAt,
    },
    now,
    minValiditySeconds,
  );
}

const clientAuth = (
  settings: {
    clientId: string;
    tokenEndpointAuthMethod: "CLIENT_SECRET_BASIC" | "CLIENT_SECRET_POST";
  },
  clientSecret: string | null,
): ClientAuthentication => ({
  clientId: settings.clientId,
  clientSecret,
  method: settings.tokenEndpointAuthMethod,
});

export function attemptFrom(action: Attempt["action"], attempt: TokenAttempt): Attempt {
  return {
    action,
    outcome: attempt.outcome,
    durationMs: attempt.durationMs,
    httpStatus: attempt.httpStatus,
    errorCode: attempt.errorCode,
  };
}

export function expiryFrom(token: TokenResponse, now = Date.now()): Date | null {
  return token.expiresIn ? new Date(now + token.expiresIn * 1000) : null;
}

class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** The negative cache: after a failure no instance calls the provider again before
 * nextRefreshAt; callers get the recorded failure instead. */
function assertNotBackingOff(row: CredentialRow) {
  if (row.nextRefreshAt && row.nextRefreshAt.getTime() > Date.now()) {
    throw new CredentialProviderError(
      row.statusReasonCode ?? "PROVIDER_UNAVAILABLE",
      `The last refresh failed${row.statusReasonCode ? ` (${row.statusReasonCode})` : ""}; the next attempt is not before ${row.nextRefreshAt.toISOString()}.`,
    );
  }
}

/** Whether a token request was made and its token stored ("refreshed"), or none was needed. */
export type RefreshOutcome = "refreshed" | "skipped";
type Flight = { minValiditySeconds: number; force: boolean; promise: Promise<RefreshOutcome> };

/** Can a new token be obtained without the user: a refresh token, or client credentials. */
function hasGrant(row: CredentialRow): boolean {
  return row.kind === "CLIENT_CREDENTIALS" || secretFields(row).has("refreshToken");
}

export class Refresher {
  /** Identifies this instance as a lease holder. */
  readonly owner = `keyport-${process.pid}-${randomBytes(6).toString("hex")}`;
  private readonly inFlight = new Map<string, Flight>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private sweeping = false;
  /** Fault injection for tests: runs after a token response arrives, before it is written. */
  onTokenResponse: ((credentialId: string) => Promise<void>) | null = null;

  constructor(private readonly deps: Deps) {}

  private get leaseMs() {
    return leaseDurationMs(this.deps.config.oauth.tokenRequestTimeoutMs);
  }

  /**
   * Makes sure the credential holds a token valid for `minValiditySeconds` (or, with `force`,
   * a newly obtained one). Concurrent callers in this process share one flight; other instances
   * wait for the lease holder's result instead of refreshing themselves.
   */
  async ensureFresh(
    credentialId: string,
    minValiditySeconds: number,
    force = false,
  ): Promise<RefreshOutcome> {
    const running = this.inFlight.get(credentialId);
    if (running) {
      // Joining is right only if the running flight serves this caller: at least the validity it
      // needs, and a new token when it asks for one.
      if (running.minValiditySeconds >= minValiditySeconds && (running.force || !force)) {
        return running.promise;
      }
      await running.promise.catch(() => undefined);
      return this.ensureFresh(credentialId, minValiditySeconds, force);
    }
    const promise = this.refreshUnderLease(credentialId, minValiditySeconds, force).finally(() =>
      this.inFlight.delete(credentialId),
    );
    this.inFlight.set(credentialId, { minValiditySeconds, force, promise });
    return promise;
  }

  private async load(credentialId: string) {
    return this.deps.prisma.credential.findUnique({
      where: { id: credentialId },
      include: { secrets: true },
    });
  }

  private async tryAcquireLease(credentialId: string): Promise<boolean> {
    // The database clock decides when a lease lapsed, so instances need not agree on time.
    const acquired = await this.deps.prisma.$executeRaw`
      UPDATE "Credential"
      SET "leaseOwner" = ${this.owner},
          "leaseExpiresAt" = now() + make_interval(secs => ${this.leaseMs / 1000})
      WHERE "id" = ${credentialId}
        AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now())`;
    return acquired === 1;
  }

  private async holdsLease(credentialId: string): Promise<boolean> {
    const held = await this.deps.prisma.$queryRaw<{ held: boolean }[]>`
      SELECT ("leaseOwner" = ${this.owner} AND "leaseExpiresAt" > now()) AS held
      FROM "Credential" WHERE "id" = ${credentialId}`;
    return held[0]?.held === true;
  }

  private async releaseLease(credentialId: string) {
    await this.deps.prisma.credential
      .updateMany({
        where: { id: credentialId, leaseOwner: this.owner },
        data: { leaseOwner: null, leaseExpiresAt: null },
      })
      .catch((error: unknown) =>
        this.deps.logger.warn("could not release refresh lease", { credentialId, error }),
      );
  }

  private async refreshUnderLease(
    credentialId: string,
    minValiditySeconds: number,
    force: boolean,
  ): Promise<RefreshOutcome> {
    const started = await this.load(credentialId);
    if (!started) return "skipped";
    const startVersion = started.version;
    // A waiter must never refresh without the lease; it gives up after the holder's lease.
    const deadline = Date.now() + this.leaseMs + 5_000;
    for (;;) {
      const row = await this.load(credentialId);
      if (!row) return "skipped";
      if (force) {
        // An explicit refresh works from DEGRADED and INVALID too, whenever a grant is left
        // (invalid_grant deletes the refresh token, so a revoked grant is never retried).
        if (row.version !== startVersion) return "skipped";
        if (row.status === "PENDING_AUTHORIZATION" || !hasGrant(row)) return "skipped";
      } else {
        const decision = refreshDecision(row, minValiditySeconds);
        if (!decision.refresh) return "skipped";
        assertNotBackingOff(row);
      }
      if (await this.tryAcquireLease(credentialId)) {
        try {
          return await this.refreshHoldingLease(
            credentialId,
            minValiditySeconds,
            force ? startVersion : null,
          );
        } catch (error) {
          // If another instance refreshed while we failed (our lease had lapsed), its token stands.
          const after = await this.load(credentialId);
          const superseded =
            error instanceof CredentialProviderError &&
            !error.wroteStatus &&
            after !== null &&
            after.version > row.version &&
            (after.status === "ACTIVE" || after.statusReasonCode === "INSUFFICIENT_SCOPES");
          if (!superseded) throw error;
          return "skipped";
        } finally {
          await this.releaseLease(credentialId);
        }
      }
      if (Date.now() > deadline) {
        throw new CredentialProviderError(
          "PROVIDER_UNAVAILABLE",
          "Another instance is refreshing this credential and has not finished in time.",
        );
      }
      await new Promise((resolve) => setTimeout(resolve, waitPollMs + Math.random() * waitPollMs));
    }
  }

  private async refreshHoldingLease(
    credentialId: string,
    minValiditySeconds: number,
    forceFromVersion: number | null,
  ): Promise<RefreshOutcome> {
    const { keyRing, config, logger } = this.deps;
    const row = await this.load(credentialId);
    if (!row) return "skipped";
    // Someone may have finished a refresh between our check and taking the lease.
    if (
      forceFromVersion !== null
        ? row.version !== forceFromVersion
        : !refreshDecision(row, minValiditySeconds).refresh
    ) {
      return "skipped";
    }
    // ...or failed at it, just before releasing the lease we took.
    if (forceFromVersion === null) assertNotBackingOff(row);
    const secrets: Record<string, string> = {};
    for (const secret of row.secrets) {
      if (secret.retainUntil !== null) continue;
      if (!["clientSecret", "refreshToken"].includes(secret.field)) continue;
      secrets[secret.field] = await keyRing.decrypt(secret.ciphertext, {
        workspaceId: row.workspaceId,
        credentialId: row.id,
        field: secret.field,
      });
    }
    const action: Attempt["action"] =
      row.kind === "CLIENT_CREDENTIALS" ? "client_credentials" : "refresh";
    let tokenUrl: string | null;
    let parameters: Record<string, string>;
    let client: ClientAuthentication;
    if (row.kind === "CLIENT_CREDENTIALS") {
      const settings = settingsOf<ClientCredentialsSettings>(row);
      tokenUrl = settings.tokenUrl;
      parameters = clientCredentialsParameters(settings);
      client = clientAuth(settings, secrets.clientSecret ?? null);
    } else {
      const settings = settingsOf<OAuth2Settings>(row);
      tokenUrl = (
        await endpointsOrProviderError(
          this.deps.outbound,
          settings,
          config.oauth.tokenRequestTimeoutMs,
        )
      ).tokenUrl;
      parameters = { grant_type: "refresh_token", refresh_token: secrets.refreshToken ?? "" };
      client = clientAuth(settings, secrets.clientSecret ?? null);
    }
    if (!tokenUrl)
      throw new CredentialProviderError(
        "AUTHORIZATION_FAILED",
        "The credential has no token endpoint.",
      );

    let token: TokenResponse;
    let attempts: TokenAttempt[];
    try {
      ({ token, attempts } = await requestToken(
        {
          outbound: this.deps.outbound,
          tokenUrl,
          parameters,
          client,
          timeoutMs: config.oauth.tokenRequestTimeoutMs,
          maxAttempts: maxTokenAttempts,
        },
        {
          // A holder that stalled past its lease must not retry with a refresh token that
          // another instance may already have used.
          sleep: async (ms) => {
            await new Promise((resolve) => setTimeout(resolve, ms));
            if (!(await this.holdsLease(row.id)))
              throw new LeaseLostError("lease lapsed before a retry");
          },
        },
      ));
      await this.onTokenResponse?.(row.id);
    } catch (error) {
      if (error instanceof LeaseLostError) {
        logger.warn("refresh abandoned: lease lost", { credentialId: row.id });
        throw new CredentialProviderError("PROVIDER_UNAVAILABLE", "The refresh lease was lost.");
      }
      if (!(error instanceof TokenEndpointError)) throw error;
      const wrote = await this.recordFailure(row, action, error);
      throw new CredentialProviderError(error.code, error.message, wrote);
    }

    const rows = await encryptSecretRows(
      keyRing,
      { workspaceId: row.workspaceId, credentialId: row.id },
      {
        accessToken: token.accessToken,
        // A response without a refresh token keeps the stored one.
        ...(token.refreshToken && row.kind === "OAUTH2"
          ? { refreshToken: token.refreshToken }
          : {}),
      },
    );
    try {
      await withCredentialEvents(this.deps, async (tx, record) => {
        // The fence: only the holder of the current lease, on the version it read, may write.
        const { count } = await tx.credential.updateMany({
          where: { id: row.id, version: row.version, leaseOwner: this.owner },
          data: {
            version: { increment: 1 },
            expiresAt: expiryFrom(token),
            status: "ACTIVE",
            statusReasonCode: null,
            statusReasonMessage: null,
            lastVerifiedAt: new Date(),
            lastRefreshedAt: new Date(),
            refreshFailingSince: null,
            nextRefreshAt: null,
          },
        });
        if (count !== 1) throw new LeaseLostError("the refresh lease was lost before the write");
        const reason =
          row.kind === "OAUTH2" ? await writeScopesAfterRefresh(tx, row.id, token) : null;
        const status: CredentialStatus = reason ? "DEGRADED" : "ACTIVE";
        const restored = status === "ACTIVE" && row.status !== "ACTIVE";
        await upsertSecretRows(tx, row.id, rows);
        await this.recordAttempts(
          record,
          row,
          action,
          attempts,
          restored ? "RESTORED" : "REFRESHED",
          status,
          reason,
        );
      });
    } catch (error) {
      if (error instanceof LeaseLostError) {
        // Another instance refreshed after our lease lapsed; its tokens are newer. Ours are dropped.
        logger.warn("refresh result discarded: lease lost", { credentialId: row.id });
        return "skipped";
      }
      throw error;
    }
    return "refreshed";
  }

  private async recordAttempts(
    record: RecordEvent,
    row: { id: string; workspaceId: string },
    action: Attempt["action"],
    attempts: TokenAttempt[],
    finalType: CredentialEventType,
    status: CredentialStatus,
    reason: { code: string; message: string } | null = null,
  ) {
    for (const [index, attempt] of attempts.entries()) {
      const last = index === attempts.length - 1;
      await record({
        workspaceId: row.workspaceId,
        credentialId: row.id,
        type: last ? finalType : "REFRESH_FAILED",
        status,
        reason: last ? reason : null,
        attempt: attemptFrom(action, attempt),
      });
    }
  }

  /** Records a failed refresh; returns whether it was written (the fence held). */
  private async recordFailure(
    row: CredentialRow,
    action: Attempt["action"],
    error: TokenEndpointError,
  ): Promise<boolean> {
    if (error.code === "REFRESH_TOKEN_REVOKED") {
      // invalid_grant is terminal only if nobody changed the credential meanwhile (one re-read).
      const current = await this.deps.prisma.credential.findUnique({
        where: { id: row.id },
        select: { version: true },
      });
      if (!current || current.version !== row.version) return false;
    }
    // Only a dead grant or client is final. Anything else (outages, odd answers, a refused
    // address) leaves the credential DEGRADED and retried, until it has failed for
    // REFRESH_GIVE_UP_AFTER without a single success.
    const now = new Date();
    const failingSince = row.refreshFailingSince ?? now;
    const { giveUpAfterMs, failureBackoffMs } = this.deps.config.oauth;
    let status: CredentialStatus;
    let code: string;
    if (error.permanent) {
      status = "INVALID";
      code = error.code;
    } else if (giveUpAfterMs > 0 && now.getTime() - failingSince.getTime() >= giveUpAfterMs) {
      status = "INVALID";
      code = "TOKEN_REFRESH_FAILED";
    } else {
      status = "DEGRADED";
      code = error.code;
    }
    const reason = { code, message: error.message };
    return withCredentialEvents(this.deps, async (tx, record) => {
      const { count } = await tx.credential.updateMany({
        where: { id: row.id, version: row.version, leaseOwner: this.owner },
        data: {
          version: { increment: 1 },
          status,
          statusReasonCode: code,
          statusReasonMessage: error.message,
          refreshFailingSince: failingSince,
          nextRefreshAt: new Date(now.getTime() + failureBackoffMs),
        },
      });
      if (count !== 1) return false;
      if (error.oauthError === "invalid_grant" && row.kind === "OAUTH2") {
        // The grant is gone; keeping its refresh token could only trip another refusal.
        await tx.credentialSecret.deleteMany({
          where: { credentialId: row.id, field: "refreshToken" },
        });
      }
      await this.recordAttempts(
        record,
        row,
        action,
        error.attempts,
        "REFRESH_FAILED",
        status,
        reason,
      );
      if (status === "INVALID") {
        await record({
          workspaceId: row.workspaceId,
          credentialId: row.id,
          type: "INVALIDATED",
          status,
          reason,
        });
        await recordAudit(tx, {
          workspaceId: row.workspaceId,
          actor: "system:refresh",
          action: "credential.invalidate",
          objectType: "Credential",
          objectId: row.id,
          metadata: { code },
        });
      }
      return true;
    });
  }

  /** Refreshes, on every instance, tokens that expire within 10 minutes. */
  startSweeper() {
    const interval = this.deps.config.oauth.sweepIntervalMs;
    if (interval <= 0 || this.sweepTimer) return;
    this.sweepTimer = setInterval(() => void this.sweep(), interval);
    this.sweepTimer.unref();
  }

  stopSweeper() {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = null;
  }

  /**
   * Shutting down: stops the sweeper, lets running refreshes finish for up to `timeoutMs`, then
   * releases every lease this instance still holds, so other instances need not wait for them to
   * lapse.
   */
  async drain(timeoutMs: number): Promise<void> {
    this.stopSweeper();
    const flights = [...this.inFlight.values()].map((flight) => flight.promise.catch(() => {}));
    if (flights.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(flights),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
      clearTimeout(timer);
    }
    try {
      await this.deps.prisma.credential.updateMany({
        where: { leaseOwner: this.owner },
        data: { leaseOwner: null, leaseExpiresAt: null },
      });
    } catch (error) {
      this.deps.logger.warn("could not release refresh leases", { error });
    }
  }

  /**
   * One pass of the background refresher; returns how many token requests succeeded. It takes
   * only credentials it can refresh (a refresh token, or client credentials) that are due: the
   * token expires within `horizonSeconds`, is missing, or (keep-alive) has not been refreshed for
   * REFRESH_KEEPALIVE. Healthy credentials come first, then failed ones in the order of their
   * next allowed attempt, so a failing credential never holds up the others.
   */
  async sweep(horizonSeconds = 600): Promise<number> {
    if (this.sweeping) return 0;
    this.sweeping = true;
    let refreshed = 0;
    try {
      const now = new Date();
      const { keepAliveMs } = this.deps.config.oauth;
      const keepAliveBefore = keepAliveMs > 0 ? new Date(now.getTime() - keepAliveMs) : null;
      const due = await this.deps.prisma.credential.findMany({
        where: {
          status: { in: ["ACTIVE", "DEGRADED"] },
          AND: [
            {
              OR: [
                { kind: "CLIENT_CREDENTIALS" },
                {
                  kind: "OAUTH2",
                  secrets: { some: { field: "refreshToken", retainUntil: null } },
                },
              ],
            },
            { OR: [{ nextRefreshAt: null }, { nextRefreshAt: { lte: now } }] },
            { OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
            {
              OR: [
                { expiresAt: { lt: new Date(now.getTime() + horizonSeconds * 1000) } },
                { secrets: { none: { field: "accessToken", retainUntil: null } } },
                ...(keepAliveBefore
                  ? [
                      {
                        kind: "OAUTH2" as const,
                        OR: [
                          { lastRefreshedAt: { lt: keepAliveBefore } },
                          { lastRefreshedAt: null, createdAt: { lt: keepAliveBefore } },
                        ],
                      },
                    ]
                  : []),
              ],
            },
          ],
        },
        select: {
          id: true,
          expiresAt: true,
          secrets: { where: { field: "accessToken", retainUntil: null }, select: { id: true } },
        },
        orderBy: [{ nextRefreshAt: { sort: "asc", nulls: "first" } }, { expiresAt: "asc" }],
        take: 50,
      });
      for (const { id, expiresAt, secrets } of due) {
        const needsToken =
          secrets.length === 0 ||
          (expiresAt !== null && expiresAt.getTime() < now.getTime() + horizonSeconds * 1000);
        try {
          // Otherwise it was picked for keep-alive: refresh although its token is still valid.
          const outcome = await this.ensureFresh(id, horizonSeconds, !needsToken);
          if (outcome === "refreshed") refreshed++;
        } catch (error) {
          this.deps.logger.warn("background refresh failed", {
            credentialId: id,
            code: error instanceof CredentialProviderError ? error.code : "unexpected",
          });
        }
      }
    } finally {
      this.sweeping = false;
    }
    return refreshed;
  }
}

/**
 * Scopes after a successful refresh. A response without `scope` grants what was granted before
 * (RFC 6749 §5.1, §6), so granted and missing scopes stay as they are. A response with one
 * replaces the granted scopes, and a missing scope is cleared only when it now shows up granted.
 * While any scope is missing the credential stays DEGRADED (INSUFFICIENT_SCOPES): the token
 * works for what was granted.
 */
export function scopesAfterRefresh(
  settings: OAuth2Settings,
  token: TokenResponse,
  providerKey: string | null,
): { settings: OAuth2Settings; reason: { code: string; message: string } | null } {
  let next = settings;
  if (token.scope) {
    const granted = grantedScopesOf(token.scope, settings.grantedScopes);
    const stillMissing = missingScopesOf(
      settings.missingScopes,
      granted,
      scopeSpellingFor(providerKey),
    );
    next = { ...settings, grantedScopes: granted, missingScopes: stillMissing };
  }
  const reason =
    next.missingScopes.length > 0
      ? { code: "INSUFFICIENT_SCOPES", message: insufficientScopesMessage(next.missingScopes) }
      : null;
  return { settings: next, reason };
}

/**
 * Inside the refresh's transaction, after its fenced write (which holds the row): records the
 * scopes a refresh response grants and returns the INSUFFICIENT_SCOPES reason while any are
 * missing, writing that status. Settings are read again here, so a concurrent settings update
 * that committed first is kept.
 */
async function writeScopesAfterRefresh(
  tx: Prisma.TransactionClient,
  credentialId: string,
  token: TokenResponse,
): Promise<{ code: string; message: string } | null> {
  const current = await tx.credential.findUniqueOrThrow({
    where: { id: credentialId },
    select: { kind: true, settings: true, providerKey: true },
  });
  const before = settingsOf<OAuth2Settings>(current);
  const { settings, reason } = scopesAfterRefresh(before, token, current.providerKey);
  if (settings !== before || reason) {
    await tx.credential.update({
      where: { id: credentialId },
      data: {
        ...(settings !== before ? { settings } : {}),
        ...(reason
          ? {
              status: "DEGRADED",
              statusReasonCode: reason.code,
              statusReasonMessage: reason.message,
            }
          : {}),
      },
    });
  }
  return reason;
}

/** Endpoints, with a failed discovery reported as the provider being unavailable. */
export async function endpointsOrProviderError(
  outbound: Outbound,
  settings: Parameters<typeof resolveEndpoints>[1],
  timeoutMs: number,
  options: Parameters<typeof resolveEndpoints>[3] = {},
) {
  try {
    return await resolveEndpoints(outbound, settings, timeoutMs, options);
  } catch (error) {
    if (!(error instanceof DiscoveryError)) throw error;
    throw new CredentialProviderError(
      error.code,
      `Authorization server metadata: ${error.message}.`,
    );
  }
}

export function clientCredentialsParameters(
  settings: ClientCredentialsSettings,
): Record<string, string> {
  return {
    grant_type: "client_credentials",
    ...(settings.scopes.length > 0 ? { scope: settings.scopes.join(" ") } : {}),
    ...(settings.audience ? { audience: settings.audience } : {}),
  };
}
