// Writing tokens a provider issued: the expiry they carry, the attempts they took (as history
// records), and the fenced write of a refreshed token. Used by the refresher and the
// authorization flow.
import type { Prisma } from "../../generated/prisma/client.js";
import type { TokenAttempt, TokenResponse } from "../oauth/token-client.js";
import type { Attempt } from "./history.js";
import { type SecretRow, upsertSecretRows } from "./secret-rows.js";

export function expiryFrom(token: Pick<TokenResponse, "expiresIn">, now = Date.now()): Date | null {
  return token.expiresIn ? new Date(now + token.expiresIn * 1000) : null;
}

export function attemptFrom(action: Attempt["action"], attempt: TokenAttempt): Attempt {
  return {
    action,
    outcome: attempt.outcome,
    durationMs: attempt.durationMs,
    httpStatus: attempt.httpStatus,
    errorCode: attempt.errorCode,
  };
}

/**
 * Writes a refreshed token: only the holder of the current lease, on the version it read, may
 * write (compare-and-set). Returns false when the fence did not hold (nothing was written).
 */
export async function storeRefreshedToken(
  tx: Prisma.TransactionClient,
  fence: { id: string; version: number; leaseOwner: string },
  token: { rows: SecretRow[]; expiresAt: Date | null },
): Promise<boolean> {
  const now = new Date();
  const { count } = await tx.credential.updateMany({
    where: { id: fence.id, version: fence.version, leaseOwner: fence.leaseOwner },
    data: {
      version: { increment: 1 },
      expiresAt: token.expiresAt,
      status: "ACTIVE",
      statusReasonCode: null,
      statusReasonMessage: null,
      lastVerifiedAt: now,
      lastRefreshedAt: now,
      refreshFailingSince: null,
      nextRefreshAt: null,
    },
  });
  if (count !== 1) return false;
  await upsertSecretRows(tx, fence.id, token.rows);
  return true;
}
