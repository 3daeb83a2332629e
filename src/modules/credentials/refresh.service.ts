// Token refresh as a locked side effect. "Should we refresh" is the pure shouldRefresh(); the
// refresh itself runs only while holding a lease row in the shared database, and its result is
// written with a compare-and-set on the credential's version, so across every instance there is
// one refresh per credential at a time and a holder whose lease lapsed cannot overwrite newer
// tokens.
import { randomBytes } from "node:crypto";
import type { ServiceDeps } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { recordAudit } from "../audit/audit.service.js";
import { shouldRefresh } from "../oauth/should-refresh.js";
import {
  maxRequestDurationMs,
  type TokenAttempt,
  TokenEndpointError,
} from "../oauth/token-client.js";
import { CredentialProviderError } from "./credentials.errors.js";
import {
  type Attempt,
  type CredentialEventType,
  type RecordEvent,
  withCredentialEvents,
} from "./history.js";
import type { CredentialStatus, ObtainedToken } from "./kinds/common.js";
import { kindDefinitions, settingsOf } from "./kinds/index.js";
import { encryptSecretRows } from "./secret-rows.js";
import { attemptFrom, storeRefreshedToken } from "./token-store.js";

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

/** Can a new token be obtained without the user (the kind decides: a refresh token, client
 * credentials, a configured token request). */
function hasGrant(row: CredentialRow): boolean {
  const grant = kindDefinitions[row.kind].tokenGrant;
  return grant?.canRefresh(settingsOf(row), secretFields(row)) === true;
}

export function refreshDecision(row: CredentialRow, minValiditySeconds: number, now = new Date()) {
  const field = kindDefinitions[row.kind].tokenGrant?.accessTokenField ?? "accessToken";
  return shouldRefresh(
    {
      status: row.status,
      hasAccessToken: secretFields(row).has(field),
      canRefresh: hasGrant(row),
      expiresAt: row.expiresAt,
    },
    now,
    minValiditySeconds,
  );
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
    const grant = kindDefinitions[row.kind].tokenGrant;
    if (!grant) return "skipped";
    const secrets: Record<string, string> = {};
    for (const secret of row.secrets) {
      if (secret.retainUntil !== null) continue;
      if (!grant.secrets.includes(secret.field)) continue;
      secrets[secret.field] = await keyRing.decrypt(secret.ciphertext, {
        workspaceId: row.workspaceId,
        credentialId: row.id,
        field: secret.field,
      });
    }
    const action = grant.action;

    let token: ObtainedToken;
    try {
      token = await grant.obtain(settingsOf(row), secrets, {
        outbound: this.deps.outbound,
        timeoutMs: config.oauth.tokenRequestTimeoutMs,
        maxAttempts: maxTokenAttempts,
        // A holder that stalled past its lease must not retry with a refresh token that
        // another instance may already have used.
        sleep: async (ms) => {
          await new Promise((resolve) => setTimeout(resolve, ms));
          if (!(await this.holdsLease(row.id)))
            throw new LeaseLostError("lease lapsed before a retry");
        },
      });
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
      token.secrets,
    );
    try {
      await withCredentialEvents(this.deps, async (tx, record) => {
        // The fence: only the holder of the current lease, on the version it read, may write.
        const written = await storeRefreshedToken(
          tx,
          { id: row.id, version: row.version, leaseOwner: this.owner },
          { rows, expiresAt: token.expiresAt },
        );
        if (!written) throw new LeaseLostError("the refresh lease was lost before the write");
        const reason = token.afterWrite ? await token.afterWrite(tx, row.id) : null;
        const status: CredentialStatus = reason ? "DEGRADED" : "ACTIVE";
        const restored = status === "ACTIVE" && row.status !== "ACTIVE";
        await this.recordAttempts(
          record,
          row,
          action,
          token.attempts,
          restored ? "RESTORED" : "REFRESHED",
          status,
          reason,
          token.updated,
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
    updated: string[] = [],
  ) {
    for (const [index, attempt] of attempts.entries()) {
      const last = index === attempts.length - 1;
      const recorded = attemptFrom(action, attempt);
      await record({
        workspaceId: row.workspaceId,
        credentialId: row.id,
        type: last ? finalType : "REFRESH_FAILED",
        status,
        reason: last ? reason : null,
        attempt:
          last && attempt.outcome === "success"
            ? { ...recorded, updatedFields: updated }
            : recorded,
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
      const dropped = kindDefinitions[row.kind].tokenGrant?.dropOnRevokedGrant ?? [];
      if (error.oauthError === "invalid_grant" && dropped.length > 0) {
        // The grant is gone; keeping its tokens could only trip another refusal.
        await tx.credentialSecret.deleteMany({
          where: { credentialId: row.id, field: { in: [...dropped] } },
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
      const grants = Object.values(kindDefinitions).flatMap((definition) =>
        definition.tokenGrant ? [definition.tokenGrant] : [],
      );
      const due = await this.deps.prisma.credential.findMany({
        where: {
          status: { in: ["ACTIVE", "DEGRADED"] },
          AND: [
            {
              // Due: the token expires within the horizon, or the kind's token is missing.
              OR: grants.map((grant) => ({
                AND: [
                  grant.sweepWhere,
                  {
                    OR: [
                      { expiresAt: { lt: new Date(now.getTime() + horizonSeconds * 1000) } },
                      { secrets: { none: { field: grant.accessTokenField, retainUntil: null } } },
                      ...(keepAliveBefore && grant.keepAlive
                        ? [
                            { lastRefreshedAt: { lt: keepAliveBefore } },
                            { lastRefreshedAt: null, createdAt: { lt: keepAliveBefore } },
                          ]
                        : []),
                    ],
                  },
                ],
              })),
            },
            { OR: [{ nextRefreshAt: null }, { nextRefreshAt: { lte: now } }] },
            { OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
          ],
        },
        select: {
          id: true,
          expiresAt: true,
          kind: true,
          secrets: { where: { retainUntil: null }, select: { field: true } },
        },
        orderBy: [{ nextRefreshAt: { sort: "asc", nulls: "first" } }, { expiresAt: "asc" }],
        take: 50,
      });
      for (const { id, kind, expiresAt, secrets } of due) {
        const field = kindDefinitions[kind].tokenGrant?.accessTokenField ?? "accessToken";
        const needsToken =
          !secrets.some((secret) => secret.field === field) ||
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
