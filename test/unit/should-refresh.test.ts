import { describe, expect, it } from "vitest";
import { type RefreshState, shouldRefresh } from "../../src/modules/oauth/should-refresh.js";

const now = new Date("2025-06-01T12:00:00.000Z");
const minValiditySeconds = 60;
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
const boundary = minValiditySeconds * 1000;

const active: RefreshState = {
  status: "ACTIVE",
  hasAccessToken: true,
  canRefresh: true,
  expiresAt: at(3_600_000),
};

type Row = [string, Partial<RefreshState>, boolean, string];

// Whether a credential can refresh (a refresh token, client credentials, a refresh request) is
// its kind's decision; here it is given.
const cases: Row[] = [
  // Not usable: never refreshed, whatever else holds.
  ["INVALID", { status: "INVALID", expiresAt: at(-1) }, false, "not-usable"],
  ["INVALID without a token", { status: "INVALID", hasAccessToken: false }, false, "not-usable"],
  [
    "PENDING_AUTHORIZATION",
    { status: "PENDING_AUTHORIZATION", hasAccessToken: false },
    false,
    "not-usable",
  ],

  // Missing access token.
  ["no token, refreshable", { hasAccessToken: false, expiresAt: null }, true, "missing-token"],
  [
    "no token, not refreshable",
    { hasAccessToken: false, canRefresh: false, expiresAt: null },
    false,
    "not-refreshable",
  ],
  [
    "DEGRADED without a token",
    { status: "DEGRADED", hasAccessToken: false },
    true,
    "missing-token",
  ],

  // Expiry.
  ["fresh", {}, false, "fresh"],
  ["at exactly the boundary", { expiresAt: at(boundary) }, false, "fresh"],
  ["1 ms inside the boundary", { expiresAt: at(boundary - 1) }, true, "expiring"],
  ["already expired", { expiresAt: at(-1_000) }, true, "expiring"],
  [
    "expiring, not refreshable",
    { canRefresh: false, expiresAt: at(boundary - 1) },
    false,
    "not-refreshable",
  ],
  ["expired, not refreshable", { canRefresh: false, expiresAt: at(-1) }, false, "not-refreshable"],
  ["fresh, not refreshable", { canRefresh: false }, false, "fresh"],
  ["unknown lifetime", { expiresAt: null }, false, "fresh"],
  ["unknown lifetime, not refreshable", { canRefresh: false, expiresAt: null }, false, "fresh"],
  ["DEGRADED expiring", { status: "DEGRADED", expiresAt: at(boundary - 1) }, true, "expiring"],
  ["DEGRADED fresh", { status: "DEGRADED" }, false, "fresh"],
  ["invalid date counts as expiring", { expiresAt: new Date(Number.NaN) }, true, "expiring"],
];

describe("shouldRefresh", () => {
  it.each(cases)("%s", (_name, overrides, refresh, reason) => {
    expect(shouldRefresh({ ...active, ...overrides }, now, minValiditySeconds)).toEqual({
      refresh,
      reason,
    });
  });

  it("treats a zero minimum validity as refresh-on-expiry", () => {
    expect(shouldRefresh({ ...active, expiresAt: now }, now, 0)).toEqual({
      refresh: false,
      reason: "fresh",
    });
    expect(shouldRefresh({ ...active, expiresAt: at(-1) }, now, 0)).toEqual({
      refresh: true,
      reason: "expiring",
    });
  });
});
