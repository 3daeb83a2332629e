import { describe, expect, it } from "vitest";
import { type RefreshState, shouldRefresh } from "../../src/modules/oauth/should-refresh.js";

const now = new Date("2025-06-01T12:00:00.000Z");
const minValiditySeconds = 60;
const at = (offsetMs: number) => new Date(now.getTime() + offsetMs);
const boundary = minValiditySeconds * 1000;

const active: RefreshState = {
  kind: "OAUTH2",
  status: "ACTIVE",
  hasAccessToken: true,
  hasRefreshToken: true,
  expiresAt: at(3_600_000),
};

type Row = [string, Partial<RefreshState>, boolean, string];

const cases: Row[] = [
  // Not usable: never refreshed, whatever else holds.
  ["INVALID", { status: "INVALID", expiresAt: at(-1) }, false, "not-usable"],
  [
    "INVALID client credentials",
    { kind: "CLIENT_CREDENTIALS", status: "INVALID", hasAccessToken: false },
    false,
    "not-usable",
  ],
  [
    "PENDING_AUTHORIZATION",
    { status: "PENDING_AUTHORIZATION", hasAccessToken: false },
    false,
    "not-usable",
  ],

  // Missing access token.
  [
    "client credentials without a token",
    { kind: "CLIENT_CREDENTIALS", hasAccessToken: false, hasRefreshToken: false, expiresAt: null },
    true,
    "missing-token",
  ],
  [
    "OAuth2 without an access token but with a refresh token",
    { hasAccessToken: false, expiresAt: null },
    true,
    "missing-token",
  ],
  [
    "OAuth2 with neither token",
    { hasAccessToken: false, hasRefreshToken: false, expiresAt: null },
    false,
    "not-refreshable",
  ],

  // OAuth2.
  ["OAuth2 fresh", {}, false, "fresh"],
  ["OAuth2 at exactly the boundary", { expiresAt: at(boundary) }, false, "fresh"],
  ["OAuth2 1 ms inside the boundary", { expiresAt: at(boundary - 1) }, true, "expiring"],
  ["OAuth2 already expired", { expiresAt: at(-1_000) }, true, "expiring"],
  [
    "OAuth2 expiring without a refresh token",
    { hasRefreshToken: false, expiresAt: at(boundary - 1) },
    false,
    "not-refreshable",
  ],
  ["OAuth2 fresh without a refresh token", { hasRefreshToken: false }, false, "fresh"],
  ["OAuth2 with an unknown lifetime", { expiresAt: null }, false, "fresh"],
  [
    "DEGRADED OAuth2 expiring",
    { status: "DEGRADED", expiresAt: at(boundary - 1) },
    true,
    "expiring",
  ],
  ["DEGRADED OAuth2 fresh", { status: "DEGRADED" }, false, "fresh"],

  // Client credentials.
  [
    "client credentials expiring",
    { kind: "CLIENT_CREDENTIALS", hasRefreshToken: false, expiresAt: at(boundary - 1) },
    true,
    "expiring",
  ],
  [
    "client credentials at the boundary",
    { kind: "CLIENT_CREDENTIALS", hasRefreshToken: false, expiresAt: at(boundary) },
    false,
    "fresh",
  ],
  [
    "client credentials with an unknown lifetime",
    { kind: "CLIENT_CREDENTIALS", hasRefreshToken: false, expiresAt: null },
    false,
    "fresh",
  ],
  [
    "DEGRADED client credentials without a token",
    { kind: "CLIENT_CREDENTIALS", status: "DEGRADED", hasAccessToken: false },
    true,
    "missing-token",
  ],

  // Bearer: refreshable only with a refresh request and a refresh token.
  [
    "bearer with a refresh request, expiring",
    { kind: "BEARER", hasRefreshRequest: true, expiresAt: at(boundary - 1) },
    true,
    "expiring",
  ],
  [
    "bearer with a refresh request, at the boundary",
    { kind: "BEARER", hasRefreshRequest: true, expiresAt: at(boundary) },
    false,
    "fresh",
  ],
  [
    "bearer without a refresh request, expiring",
    { kind: "BEARER", expiresAt: at(boundary - 1) },
    false,
    "not-refreshable",
  ],
  [
    "bearer with hasRefreshRequest false, expiring",
    { kind: "BEARER", hasRefreshRequest: false, expiresAt: at(-1) },
    false,
    "not-refreshable",
  ],
  [
    "bearer with a refresh request but no refresh token",
    {
      kind: "BEARER",
      hasRefreshRequest: true,
      hasRefreshToken: false,
      expiresAt: at(boundary - 1),
    },
    false,
    "not-refreshable",
  ],
  [
    "bearer without a refresh request, fresh",
    { kind: "BEARER", hasRefreshToken: false },
    false,
    "fresh",
  ],
  [
    "bearer with an unknown lifetime",
    { kind: "BEARER", hasRefreshToken: false, expiresAt: null },
    false,
    "fresh",
  ],
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
