// Rotation of a credential's static secret (a password, token or client secret) with an overlap
// window and rollback, and the background task that forgets expired previous secrets.
//
// A rotation verifies the new secret, then swaps it in with a compare-and-set on the credential's
// version: of two rotations prepared from the same version only the first commits; the other
// gets CredentialConflictError and changes nothing. The replaced secret is kept, re-encrypted
// under its own field name `<field>@previous` (bound to workspace, credential and that field, so
// it never decrypts as another credential's secret nor as the current one), until the window
// closes. acquireCredentialHeaders never reads it; only rollbackCredentialRotation does.
// No GraphQL here.
import { z } from "zod";
import type { Caller, ServiceDeps } from "../../context.js";
import type { PrismaClient } from "../../db.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { isUniqueViolation } from "../../lib/db-errors.js";
import { NotFoundError, ValidationError } from "../../lib/errors.js";
import { fieldError } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import {
  CredentialConflictError,
  CredentialProviderError,
  RotationRollbackUnavailableError,
} from "./credentials.errors.js";
import { credentialScope } from "./credentials.service.js";
import { withCredentialEvents } from "./history.js";
import { headerSecretValue, secretValue } from "./kinds/common.js";
import { kindDefinitions } from "./kinds/index.js";
import { verifyRotatedSecret } from "./rotation-verify.js";
import { encryptSecretRows } from "./secret-rows.js";

/** How long the replaced secret is kept for rollback when overlapSeconds is not given. */
export const defaultOverlapSeconds = 3_600;
/** The longest overlap a rotation may ask for: 7 days. */
export const maxOverlapSeconds = 604_800;

const previousSuffix = "@previous";
export const previousField = (field: string) => `${field}${previousSuffix}`;

type Actor = Pick<Caller, "workspaceId" | "environmentId" | "actor" | "scopes" | "connect">;
type Deps = ServiceDeps;

const rotateInput = z.object({
  secret: z.record(z.string(), z.string().nullish()).nullish(),
  verify: z.boolean().nullish(),
  overlapSeconds: z
    .number()
    .int("must be a whole number")
    .min(0, "must not be negative")
    .max(maxOverlapSeconds, `must be at most ${maxOverlapSeconds} (7 days)`)
    .nullish(),
});

export type RotateInput = z.input<typeof rotateInput>;

/** The credential with every secret row, current and previous. */
async function loadScoped(prisma: PrismaClient, caller: Actor, id: string) {
  const credential = await prisma.credential.findFirst({
    where: { id, ...credentialScope(caller) },
    include: { secrets: true },
  });
  if (!credential) throw new NotFoundError("Credential");
  return credential;
}

/** The credential a secret is bound to (encryptSecretRows adds the field). */
const ownerOf = (row: { workspaceId: string; id: string }) => ({
  workspaceId: row.workspaceId,
  credentialId: row.id,
});

/** A secret's binding: the workspace, the credential and the field it is stored under. */
const bindingOf = (row: { workspaceId: string; id: string }, field: string) => ({
  workspaceId: row.workspaceId,
  credentialId: row.id,
  field,
});

/** Rotation and rollback of static secrets, and the sweep of expired previous secrets. */
export class CredentialRotation {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  /** Fault injection for tests: runs after a rotation or rollback is prepared (verified and
   * encrypted), just before its transaction. */
  onBeforeSwap: ((credentialId: string) => Promise<void>) | null = null;

  constructor(
    private readonly deps: Deps,
    private readonly options: { sweepIntervalMs: number },
  ) {}

  /**
   * Replaces a credential's rotatable secret. Without a secret, OAuth kinds fetch a new access
   * token now instead (see refreshNow).
   */
  async rotate(caller: Actor, id: string, input: RotateInput) {
    const parsed = rotateInput.safeParse(input);
    if (!parsed.success) {
      throw new ValidationError(
        parsed.error.issues.map((issue) => ({
          path: ["input", ...issue.path.map(String)],
          message: issue.message,
        })),
      );
    }
    const { deps } = this;
    const existing = await loadScoped(deps.prisma, caller, id);
    const definition = kindDefinitions[existing.kind];
    const given = Object.entries(parsed.data.secret ?? {}).filter(([, value]) => value != null);
    if (given.length === 0 && definition.rotateRefreshes) {
      return this.refreshNow(caller, existing);
    }
    if (given.length !== 1 || given[0]?.[0] !== definition.rotatableSecret) {
      throw fieldError(
        ["secret"],
        `give exactly ${definition.rotatableSecret} for ${existing.kind} credentials`,
      );
    }
    const [field, value] = given[0] as [string, string];
    // A bearer token goes into a header as it is; the other secrets only need to be one clean line.
    const checked = (field === "token" ? headerSecretValue : secretValue).safeParse(value);
    if (!checked.success) {
      throw fieldError(["secret", field], checked.error.issues[0]?.message ?? "is not valid");
    }
    const current = existing.secrets.find((row) => row.field === field && !row.retainUntil);
    if (current && current.fingerprint === deps.keyRing.fingerprint(value)) {
      throw fieldError(["secret", field], "is the current value; give a new one");
    }
    const overlapSeconds = parsed.data.overlapSeconds ?? defaultOverlapSeconds;

    // Verified before anything is written: a refused secret changes nothing.
    const verification =
      parsed.data.verify === false
        ? null
        : await verifyRotatedSecret(deps, existing, { [field]: value });

    const issued = verification?.issued ?? {};
    const fresh = await encryptSecretRows(deps.keyRing, ownerOf(existing), {
      ...issued,
      [field]: value,
    });
    const keepUntil =
      current && overlapSeconds > 0 ? new Date(Date.now() + overlapSeconds * 1000) : null;
    let previous: Awaited<ReturnType<typeof encryptSecretRows>>[number] | undefined;
    if (current && keepUntil) {
      const plaintext = await this.decrypt(existing, current);
      [previous] = await encryptSecretRows(deps.keyRing, ownerOf(existing), {
        [previousField(field)]: plaintext,
      });
    }
    await this.onBeforeSwap?.(existing.id);

    const replaced = [field, previousField(field), ...Object.keys(issued)];
    // A new secret clears a failure the old one may have caused (not an authorized credential's:
    // its tokens decide), and the refresh back-off when its token requests use this secret.
    const reactivate = !definition.authorizable && existing.status !== "ACTIVE";
    const clearsBackoff = definition.tokenGrant?.secrets.includes(field) ?? false;
    const now = new Date();
    return this.swap(existing, async (tx, record) => {
      await tx.credentialSecret.deleteMany({
        where: { credentialId: existing.id, field: { in: replaced } },
      });
      await tx.credentialSecret.createMany({
        data: [
          ...fresh.map((row) => ({ ...row, credentialId: existing.id })),
          ...(previous && keepUntil
            ? [{ ...previous, credentialId: existing.id, retainUntil: keepUntil }]
            : []),
        ],
      });
      const credential = await tx.credential.update({
        where: { id: existing.id },
        data: {
          previousSecretUntil: previous ? keepUntil : null,
          ...(verification?.verified ? { lastVerifiedAt: now } : {}),
          ...(Object.keys(issued).length > 0
            ? { expiresAt: verification?.expiresAt ?? null, lastRefreshedAt: now }
            : {}),
          ...(clearsBackoff ? { refreshFailingSince: null, nextRefreshAt: null } : {}),
          ...(reactivate
            ? { status: "ACTIVE", statusReasonCode: null, statusReasonMessage: null }
            : {}),
        },
      });
      await recordAudit(tx, {
        workspaceId: existing.workspaceId,
        actor: caller.actor,
        action: "credential.rotate",
        objectType: "Credential",
        objectId: existing.id,
        metadata: {
          field,
          verified: verification?.verified ?? false,
          previousKeptSeconds: previous ? overlapSeconds : 0,
        },
      });
      await record({
        workspaceId: existing.workspaceId,
        environmentId: existing.environmentId,
        credentialId: existing.id,
        type: "ROTATED",
        status: credential.status,
        attempt: verification?.attempt ?? null,
      });
      return credential;
    });
  }

  /**
   * Restores the secret the last rotation replaced, inside its overlap window: it becomes the
   * current secret again, the one it replaced is discarded, the version is bumped and a ROTATED
   * event is recorded. A kind whose rotation is checked with a token request (client
   * credentials) also drops its cached token (it may have been issued for the discarded secret);
   * the next use fetches one.
   */
  async rollback(caller: Actor, id: string) {
    const { deps } = this;
    const existing = await loadScoped(deps.prisma, caller, id);
    const definition = kindDefinitions[existing.kind];
    const field = definition.rotatableSecret;
    const kept = existing.secrets.find((row) => row.field === previousField(field));
    const now = new Date();
    if (!kept?.retainUntil || kept.retainUntil <= now) {
      // An expired version is never restored, whether or not the sweep has deleted it yet.
      const closedAt = kept?.retainUntil ?? existing.previousSecretUntil;
      if (closedAt && closedAt <= now) {
        throw new RotationRollbackUnavailableError("OVERLAP_EXPIRED", closedAt);
      }
      throw new RotationRollbackUnavailableError("NO_PREVIOUS_SECRET", null);
    }
    const plaintext = await this.decrypt(existing, kept);
    const [restored] = await encryptSecretRows(deps.keyRing, ownerOf(existing), {
      [field]: plaintext,
    });
    if (!restored) throw new Error("encryption produced no secret");
    await this.onBeforeSwap?.(existing.id);
    // Tokens a rotation check obtained may belong to the discarded secret.
    const dropped = definition.rotationCheck ? [...definition.authSecrets] : [];
    return this.swap(existing, async (tx, record) => {
      // Still inside the window at commit time, or not restored at all.
      const { count } = await tx.credentialSecret.deleteMany({
        where: { id: kept.id, retainUntil: { gt: new Date() } },
      });
      if (count !== 1) {
        throw new RotationRollbackUnavailableError("OVERLAP_EXPIRED", kept.retainUntil);
      }
      await tx.credentialSecret.deleteMany({
        where: {
          credentialId: existing.id,
          field: { in: [field, ...dropped] },
        },
      });
      await tx.credentialSecret.create({ data: { ...restored, credentialId: existing.id } });
      const credential = await tx.credential.update({
        where: { id: existing.id },
        data: { previousSecretUntil: null, ...(dropped.length > 0 ? { expiresAt: null } : {}) },
      });
      await recordAudit(tx, {
        workspaceId: existing.workspaceId,
        actor: caller.actor,
        action: "credential.rotation.rollback",
        objectType: "Credential",
        objectId: existing.id,
        metadata: { field, dropped },
      });
      await record({
        workspaceId: existing.workspaceId,
        environmentId: existing.environmentId,
        credentialId: existing.id,
        type: "ROTATED",
        status: credential.status,
      });
      return credential;
    });
  }

  /**
   * Runs `write` in one transaction with the credential's events, after a compare-and-set that
   * bumps the version the change was prepared from. A concurrent change that committed first
   * makes this one a CredentialConflictError, with nothing written.
   */
  private async swap<T>(
    existing: { id: string; version: number },
    write: Parameters<typeof withCredentialEvents<T>>[1],
  ): Promise<T> {
    try {
      return await withCredentialEvents(this.deps, async (tx, record) => {
        const { count } = await tx.credential.updateMany({
          where: { id: existing.id, version: existing.version },
          data: { version: { increment: 1 } },
        });
        if (count !== 1) throw new CredentialConflictError();
        return write(tx, record);
      });
    } catch (error) {
      // Belt and braces: the fence makes this unreachable, but a duplicate row is a conflict.
      if (isUniqueViolation(error)) throw new CredentialConflictError();
      throw error;
    }
  }

  /** Without a new secret, rotating a credential that can obtain tokens (OAuth kinds) means
   * fetching a new token now: from DEGRADED or INVALID too, as long as a grant is left to use. */
  private async refreshNow(
    caller: Actor,
    existing: Prisma.CredentialGetPayload<{ include: { secrets: true } }>,
  ) {
    if (existing.status === "PENDING_AUTHORIZATION") {
      throw new CredentialProviderError(
        existing.statusReasonCode ?? "AUTHORIZATION_FAILED",
        "The credential must be authorized before its token can be refreshed.",
      );
    }
    const { authorizable } = kindDefinitions[existing.kind];
    const outcome = await this.deps.refresher.ensureFresh(existing.id, 0, true);
    const refreshed = await loadScoped(this.deps.prisma, caller, existing.id);
    if (outcome !== "refreshed" && refreshed.version === existing.version) {
      throw new CredentialProviderError(
        authorizable && existing.status === "INVALID"
          ? (existing.statusReasonCode ?? "TOKEN_REFRESH_FAILED")
          : "TOKEN_REFRESH_FAILED",
        authorizable
          ? "The credential has no refresh token left; authorize it again."
          : "No new token was obtained.",
      );
    }
    return refreshed;
  }

  private async decrypt(
    credential: { id: string; workspaceId: string },
    row: { field: string; ciphertext: string },
  ) {
    try {
      return await this.deps.keyRing.decrypt(row.ciphertext, bindingOf(credential, row.field));
    } catch (error) {
      this.deps.logger.error("secret could not be decrypted", {
        credentialId: credential.id,
        field: row.field,
        error,
      });
      throw error;
    }
  }

  /** Deletes expired previous secrets every `sweepIntervalMs` on every instance (idempotent). */
  start() {
    if (this.options.sweepIntervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.sweep(), this.options.sweepIntervalMs);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One pass; a pass already running is joined instead of started again. */
  sweep(): Promise<number> {
    this.running ??= deleteExpiredPreviousSecrets(this.deps.prisma)
      .catch((error: unknown) => {
        this.deps.logger.warn("could not delete expired previous secrets", { error });
        return 0;
      })
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }
}

/**
 * Deletes previous secrets whose overlap window has closed, `batchSize` rows per statement
 * (an index on retainUntil keeps each one cheap); returns how many were deleted. Safe to run on
 * several instances at once: a row deleted twice is deleted once.
 */
export async function deleteExpiredPreviousSecrets(
  prisma: PrismaClient,
  { batchSize = 500, now = new Date() }: { batchSize?: number; now?: Date } = {},
): Promise<number> {
  let deleted = 0;
  for (;;) {
    const count = await prisma.$executeRaw`
      DELETE FROM "CredentialSecret" WHERE "id" IN (
        SELECT "id" FROM "CredentialSecret" WHERE "retainUntil" <= ${now}
        ORDER BY "retainUntil" LIMIT ${batchSize})`;
    deleted += count;
    if (count < batchSize) return deleted;
  }
}
