// Whether a credential's access token should be refreshed before it is handed out. Pure, so the
// read path and the background refresher decide the same way.

export type RefreshState = {
  kind: "OAUTH2" | "CLIENT_CREDENTIALS" | "BEARER";
  status: "PENDING_AUTHORIZATION" | "ACTIVE" | "DEGRADED" | "INVALID";
  hasAccessToken: boolean;
  hasRefreshToken: boolean;
  /** BEARER only: a refresh request is configured for the token. */
  hasRefreshRequest?: boolean;
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
  const refreshable = canRefresh(state);
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

function canRefresh(state: RefreshState): boolean {
  switch (state.kind) {
    case "CLIENT_CREDENTIALS":
      // The client credentials themselves are the grant: a new token can always be requested.
      return true;
    case "OAUTH2":
      return state.hasRefreshToken;
    case "BEARER":
      return state.hasRefreshRequest === true && state.hasRefreshToken;
  }
}
