// Verifying credentials with their provider: before a credential is saved, on demand
// (testCredential), before a rotated secret is swapped in (verifySecretMaterial), and in the
// background for static credentials that have not been used for VERIFY_IDLE_AFTER.
//
// What "the provider's dry call" is depends on the kind: the catalog's verify request for BASIC
// and BEARER (and for OAUTH2 with an access token), a token request for CLIENT_CREDENTIALS, and
// the issuer's metadata for an OAUTH2 credential that has only an issuer. Every request goes
// through the outbound path; a secret goes only to its entry's URLs (or the credential's own
// token endpoint).
import { randomBytes } from "node:crypto";
import type { ServiceDeps } from "../../context.js";
import { type Caller, callerScope } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { NotFoundError } from "../../lib/errors.js";
import type { VerificationOutcome } from "../catalog/verify.js";
import {
  CredentialNotUsableError,
  CredentialNotVerifiableError,
  CredentialVerificationError,
} from "./credentials.errors.js";
import { type CredentialEventInput, type RecordEvent, withCredentialEvents } from "./history.js";
import type { CheckContext, CredentialKind, CredentialStatus } from "./kinds/common.js";
import { kindDefinitions, settingsOf } from "./kinds/index.js";

type CredentialActor = Pick<Caller, "workspaceId" | "environmentId">;

export { CredentialNotVerifiableError, CredentialVerificationError };

type Deps = Omit<ServiceDeps, "refresher"> & Partial<Pick<ServiceDeps, "refresher">>;

/** The parts of a credential row verification reads. */
export type VerifiableCredential = {
  id?: string;
  kind: CredentialKind;
  settings: unknown;
  providerKey: string | null;
  connectionConfig: unknown;
};

export function connectionConfigOf(row: { connectionConfig: unknown }): Record<string, string> {
  const value = row.connectionConfig;
  if (!value || typeof value !== "object" || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).filter(
      (pair): pair is [string, string] => typeof pair[1] === "string",
    ),
  );
}

/**
 * Verifies a credential with the given secrets (its stored ones, or candidates for a rotation).
 * Returns null when there is nothing to call for it.
 */
export async function verifySecretMaterial(
  deps: Deps,
  credential: VerifiableCredential,
  candidateSecrets: Readonly<Record<string, string>>,
): Promise<VerificationOutcome | null> {
  return verificationCheck(deps, credential)?.(candidateSecrets) ?? null;
}

/** What a kind's check needs about a credential's provider. */
export function checkContextOf(
  deps: Pick<Deps, "outbound" | "config" | "catalog">,
  credential: Pick<VerifiableCredential, "providerKey" | "connectionConfig">,
): CheckContext {
  const entry = deps.catalog.get(credential.providerKey);
  return {
    outbound: deps.outbound,
    timeoutMs: deps.config.oauth.tokenRequestTimeoutMs,
    provider: entry ? { entry, connectionConfig: connectionConfigOf(credential) } : null,
  };
}

/** The kind's dry call for a credential, bound to its settings and provider; null if none. */
function verificationCheck(deps: Deps, credential: VerifiableCredential) {
  const definition = kindDefinitions[credential.kind];
  const settings = settingsOf(credential as { kind: CredentialKind; settings: unknown });
  const context = checkContextOf(deps, credential);
  const probe = (secrets: Readonly<Record<string, string>>) =>
    definition.check(settings, secrets, context);
  return definition.hasCheck(settings, context) ? probe : null;
}

/** Throws the classified failure; used before anything is stored. */
export async function verifyBeforeSave(
  deps: Deps,
  credential: VerifiableCredential,
  secrets: Readonly<Record<string, string>>,
): Promise<boolean> {
  const outcome = await verifySecretMaterial(deps, credential, secrets);
  if (!outcome) return false;
  if (!outcome.ok) {
    throw new CredentialVerificationError(outcome.code, outcome.message, outcome.httpStatus);
  }
  return true;
}

async function decryptedSecrets(
  deps: Deps,
  row: { id: string; workspaceId: string; secrets: { field: string; ciphertext: string }[] },
) {
  const secrets: Record<string, string> = {};
  for (const secret of row.secrets) {
    secrets[secret.field] = await deps.keyRing.decrypt(secret.ciphertext, {
      workspaceId: row.workspaceId,
      credentialId: row.id,
      field: secret.field,
    });
  }
  return secrets;
}

type StoredRow = Prisma.CredentialGetPayload<{ include: { secrets: true } }>;

async function loadRow(deps: Deps, where: Prisma.CredentialWhereInput) {
  return deps.prisma.credential.findFirst({
    where,
    include: { secrets: { where: { retainUntil: null } } },
  });
}

/** The kinds whose check decides their status: the idle re-check visits these. */
const idleCheckedKinds = Object.values(kindDefinitions)
  .filter((definition) => definition.checkDecidesStatus)
  .map((definition) => definition.kind);

/** Only a rejection of the credential itself is permanent; everything else may pass. */
const invalidatingCodes = new Set(["INVALID_CREDENTIALS"]);

/**
 * Writes a verification's result: lastVerifiedAt and VERIFIED on success (restoring a static
 * credential that an earlier check had invalidated); VERIFICATION_FAILED on failure, and for a
 * static credential the provider rejected, INVALID with an INVALIDATED event. Transient failures
 * change no status. The status change and its events commit together.
 */
async function recordOutcome(
  deps: Deps,
  row: StoredRow,
  outcome: VerificationOutcome,
  options: { invalidate: boolean },
) {
  const attempt = {
    action: "verify",
    outcome: outcome.ok ? "success" : "failure",
    durationMs: outcome.durationMs,
    httpStatus: outcome.httpStatus,
    errorCode: outcome.ok ? null : outcome.code,
  } satisfies CredentialEventInput["attempt"];
  const staticKind = kindDefinitions[row.kind].checkDecidesStatus;
  return withCredentialEvents(deps, async (tx, record: RecordEvent) => {
    const base = {
      workspaceId: row.workspaceId,
      environmentId: row.environmentId,
      credentialId: row.id,
    };
    if (outcome.ok) {
      const restore =
        staticKind && row.status === "INVALID" && row.statusReasonCode === "INVALID_CREDENTIALS";
      // Only if nothing changed the credential meanwhile (a rotation, another check).
      const { count } = await tx.credential.updateMany({
        where: { id: row.id, version: row.version },
        data: {
          lastVerifiedAt: new Date(),
          ...(restore
            ? {
                status: "ACTIVE",
                statusReasonCode: null,
                statusReasonMessage: null,
                version: { increment: 1 },
              }
            : {}),
        },
      });
      if (count === 0) return null;
      const status: CredentialStatus = restore ? "ACTIVE" : row.status;
      await record({ ...base, type: "VERIFIED", status, attempt });
      if (restore) await record({ ...base, type: "RESTORED", status });
      return tx.credential.findUnique({ where: { id: row.id } });
    }
    const reason = { code: outcome.code, message: outcome.message };
    const invalidate =
      options.invalidate && staticKind && !outcome.transient && invalidatingCodes.has(outcome.code);
    if (invalidate && row.status !== "INVALID") {
      const { count } = await tx.credential.updateMany({
        where: { id: row.id, version: row.version },
        data: {
          status: "INVALID",
          statusReasonCode: reason.code,
          statusReasonMessage: reason.message,
          lastVerifiedAt: new Date(),
          version: { increment: 1 },
        },
      });
      if (count === 0) return null;
      await record({
        ...base,
        type: "VERIFICATION_FAILED",
        status: "INVALID",
        reason,
        attempt,
      });
      await record({ ...base, type: "INVALIDATED", status: "INVALID", reason });
    } else {
      await record({
        ...base,
        type: "VERIFICATION_FAILED",
        status: row.status,
        reason,
        attempt,
      });
    }
    return tx.credential.findUnique({ where: { id: row.id } });
  });
}

/**
 * testCredential: the provider's dry call for a stored credential, recorded in its history.
 * Returns the credential on success; throws CredentialVerificationError on failure.
 */
export async function testCredential(deps: Deps, caller: CredentialActor, id: string) {
  let row = await loadRow(deps, { id, ...callerScope(caller) });
  if (!row) throw new NotFoundError("Credential");
  const definition = kindDefinitions[row.kind];
  if (definition.checkNeedsAuthorization && row.status === "PENDING_AUTHORIZATION") {
    throw new CredentialNotUsableError(
      row.status,
      null,
      "The credential must be authorized before it can be tested.",
    );
  }
  if (
    definition.refreshBeforeCheck &&
    deps.refresher &&
    deps.catalog.get(row.providerKey)?.verify
  ) {
    // The verify request needs a working access token; refreshing first is what a caller would do.
    await deps.refresher.ensureFresh(row.id, 60).catch(() => undefined);
    row = (await loadRow(deps, { id: row.id })) ?? row;
  }
  const check = verificationCheck(deps, row);
  if (!check) {
    throw new CredentialNotVerifiableError(
      row.providerKey && deps.catalog.get(row.providerKey)
        ? `The provider ${row.providerKey} has no verify request for ${row.kind} credentials.`
        : "This credential has no provider with a verify request (set providerKey to a catalog entry).",
    );
  }
  const outcome = await check(await decryptedSecrets(deps, row));
  if (!outcome)
    throw new CredentialNotVerifiableError("There is nothing to verify this credential with.");
  const updated = await recordOutcome(deps, row, outcome, { invalidate: true });
  if (!outcome.ok) {
    throw new CredentialVerificationError(outcome.code, outcome.message, outcome.httpStatus);
  }
  return updated ?? (await loadRow(deps, { id: row.id })) ?? row;
}

/**
 * Re-checks static credentials (BASIC, BEARER) of verifiable providers that nobody used or
 * checked for VERIFY_IDLE_AFTER. Each credential is taken under its lease (the same row lease
 * the refresher uses), so across instances one check runs per credential.
 */
export class IdleVerifier {
  readonly owner = `keyport-verify-${process.pid}-${randomBytes(6).toString("hex")}`;
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(private readonly deps: Deps) {}

  start() {
    const interval = this.deps.config.verification.sweepIntervalMs;
    if (interval <= 0 || this.deps.config.verification.idleAfterMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sweep(), interval);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; returns how many credentials were checked. */
  async sweep(now = new Date()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    let checked = 0;
    try {
      const idleMs = this.deps.config.verification.idleAfterMs;
      if (idleMs <= 0) return 0;
      const before = new Date(now.getTime() - idleMs);
      const keys = this.deps.catalog
        .list()
        .filter((entry) => entry.verify)
        .map((entry) => entry.key);
      if (keys.length === 0) return 0;
      const due = await this.deps.prisma.credential.findMany({
        where: {
          kind: { in: idleCheckedKinds },
          status: { in: ["ACTIVE", "DEGRADED"] },
          providerKey: { in: keys },
          AND: [
            { OR: [{ lastUsedAt: null }, { lastUsedAt: { lt: before } }] },
            { OR: [{ lastVerifiedAt: null }, { lastVerifiedAt: { lt: before } }] },
            { createdAt: { lt: before } },
            { OR: [{ leaseExpiresAt: null }, { leaseExpiresAt: { lt: now } }] },
          ],
        },
        select: { id: true },
        orderBy: [{ lastVerifiedAt: { sort: "asc", nulls: "first" } }, { id: "asc" }],
        take: 50,
      });
      for (const { id } of due) {
        if (!(await this.acquire(id))) continue;
        try {
          const row = await loadRow(this.deps, { id });
          const check = row && verificationCheck(this.deps, row);
          if (!row || !check) continue;
          const outcome = await check(await decryptedSecrets(this.deps, row));
          if (!outcome) continue;
          await recordOutcome(this.deps, row, outcome, { invalidate: true });
          checked++;
          if (!outcome.ok) {
            this.deps.logger.warn("idle credential check failed", {
              credentialId: id,
              code: outcome.code,
            });
          }
        } catch (error) {
          this.deps.logger.warn("idle credential check could not run", { credentialId: id, error });
        } finally {
          await this.release(id);
        }
      }
    } finally {
      this.running = false;
    }
    return checked;
  }

  private async acquire(id: string): Promise<boolean> {
    const seconds = Math.ceil(this.deps.config.oauth.tokenRequestTimeoutMs / 1000) * 2 + 10;
    const taken = await this.deps.prisma.$executeRaw`
      UPDATE "Credential"
      SET "leaseOwner" = ${this.owner},
          "leaseExpiresAt" = now() + make_interval(secs => ${seconds})
      WHERE "id" = ${id}
        AND ("leaseExpiresAt" IS NULL OR "leaseExpiresAt" < now())`;
    return taken === 1;
  }

  private async release(id: string) {
    await this.deps.prisma.credential
      .updateMany({
        where: { id, leaseOwner: this.owner },
        data: { leaseOwner: null, leaseExpiresAt: null },
      })
      .catch((error: unknown) =>
        this.deps.logger.warn("could not release verification lease", { credentialId: id, error }),
      );
  }
}
