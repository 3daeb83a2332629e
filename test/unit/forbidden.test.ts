import { AuthScopeFailureType } from "@pothos/plugin-scope-auth";
import { describe, expect, it } from "vitest";
import { missingScope, missingScopes } from "../../src/builder.js";

describe("FORBIDDEN names the missing scopes", () => {
  it("collects the scopes of a failed rule, and only scopes", () => {
    expect(
      missingScopes({
        kind: AuthScopeFailureType.AnyAuthScopes,
        failures: [
          {
            kind: AuthScopeFailureType.AuthScope,
            scope: "anyScope",
            parameter: ["credentials:use", "credentials:read"],
            error: null,
          },
          {
            kind: AuthScopeFailureType.AllAuthScopes,
            failures: [
              {
                kind: AuthScopeFailureType.AuthScope,
                scope: "scope",
                parameter: "platform",
                error: null,
              },
              {
                kind: AuthScopeFailureType.AuthScope,
                scope: "unrestricted",
                parameter: true,
                error: null,
              },
            ],
          },
        ],
      }),
    ).toEqual(["credentials:read", "credentials:use", "platform"]);
    expect(missingScopes(undefined)).toEqual([]);
  });

  it("words one scope and several", () => {
    const one = missingScope(["credentials:use"]);
    expect(one.message).toBe("Not allowed. Requires scope credentials:use.");
    expect(one.extensions).toEqual({ code: "FORBIDDEN", requiredScopes: ["credentials:use"] });
    const several = missingScope(["credentials:read", "credentials:use"]);
    expect(several.message).toBe(
      "Not allowed. Requires one of the scopes credentials:read, credentials:use.",
    );
    expect(several.extensions.requiredScopes).toEqual(["credentials:read", "credentials:use"]);
  });
});
