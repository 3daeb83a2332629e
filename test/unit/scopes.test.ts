// Scope comparison: provider spellings, protocol scopes, and "absent means as requested".
import { describe, expect, it } from "vitest";
import {
  aliasSpelling,
  grantedScopesOf,
  missingScopesOf,
  scopeSpellingFor,
} from "../../src/modules/oauth/scopes.js";

const googleEmail = "https://www.googleapis.com/auth/userinfo.email";

describe("scopes", () => {
  it("reads an absent or empty scope as the requested one", () => {
    expect(grantedScopesOf(null, ["openid", "email"])).toEqual(["openid", "email"]);
    expect(grantedScopesOf("", ["a"])).toEqual(["a"]);
    expect(grantedScopesOf("a  b a", ["c"])).toEqual(["a", "b"]);
  });

  it("never counts openid or offline_access as missing", () => {
    expect(missingScopesOf(["openid", "offline_access", "read"], ["read"])).toEqual([]);
  });

  it("compares exactly unless the provider declares a spelling", () => {
    expect(missingScopesOf(["email", "Read"], [googleEmail, "read"])).toEqual(["email", "Read"]);
    const google = scopeSpellingFor("google");
    expect(missingScopesOf(["email", "profile"], [googleEmail], google)).toEqual(["profile"]);
    // Either side may use either spelling.
    expect(missingScopesOf([googleEmail], ["email"], google)).toEqual([]);
    expect(missingScopesOf(["email"], [googleEmail], scopeSpellingFor("github"))).toEqual([
      "email",
    ]);
    for (const key of [null, undefined, "", "__proto__", "constructor"]) {
      expect(scopeSpellingFor(key)("email")).toBe("email");
    }
  });

  it("builds a spelling from a table", () => {
    const spelling = aliasSpelling({ short: "urn:long" });
    expect(missingScopesOf(["short", "other"], ["urn:long"], spelling)).toEqual(["other"]);
  });
});
