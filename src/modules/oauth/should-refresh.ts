// Whether a credential's access token should be refreshed before it is handed out. Pure, so the
// read path and the background refresher decide the same way.

export type RefreshState = {
  status: "PENDING_AUTHORIZATION" | "ACTIVE" | "DEGRADED" | "INVALID";
  hasAccessToken: boolean;
  /** A new token can be obtained without the user (a refresh token, client credentials, a
   * configured token request): the credential's kind decides. */
  canRefresh: boolean;
  expiresAt: Date | null;
};

export type RefreshReason =
  | "missing-token"
  | "expiring"
  | "fresh"
  | "not-refreshable"
  | "not-usable";

export type RefreshDecision = { refresh: boolean; reason: RefreshReason };

export function shouldRefresh(
  state: RefreshState,
  now: Date,
  minValiditySeconds: number,
): RefreshDecision {
  // INVALID waits for re-authorization (another token call could trip grant-wide revocation);
  // PENDING_AUTHORIZATION has nothing to refresh yet. DEGRADED is still usable and retried.
  if (state.status === "INVALID" || state.status === "PENDING_AUTHORIZATION") {
    return { refresh: false, reason: "not-usable" };
  }
  const refreshable = state.canRefresh;
  if (!state.hasAccessToken) {
    return refreshable
      ? { refresh: true, reason: "missing-token" }
      : { refresh: false, reason: "not-refreshable" };
  }
  // Unknown lifetime: refreshing on every use would hammer the provider; use it until rejected.
  if (state.expiresAt === null) return { refresh: false, reason: "fresh" };

  const remainingMs = state.expiresAt.getTime() - now.getTime();
  // Written so an invalid date (NaN) counts as expiring rather than as fresh.
  const expiring = !(remainingMs >= minValiditySeconds * 1000);
  if (!expiring) return { refresh: false, reason: "fresh" };
  return refreshable
    ? { refresh: true, reason: "expiring" }
    : { refresh: false, reason: "not-refreshable" };
}
