import { describe, expect, it } from "vitest";
import {
  isPlaceholdersOnly,
  mapTemplateResponse,
  readPath,
  renderTemplate,
  TemplateRenderError,
  type TokenTemplate,
} from "../../src/modules/oauth/token-template.js";

const template = (fields: Partial<TokenTemplate>): TokenTemplate => ({
  endpoint: "https://tokens.example/refresh",
  method: "POST",
  headers: [],
  body: null,
  accessTokenPath: "access",
  refreshTokenPath: null,
  expiresInPath: null,
  expiresAtPath: null,
  accessTokenDurationMinutes: null,
  ...fields,
});

describe("token request templates", () => {
  it("refuses a value with CR, LF or NUL in a header", () => {
    for (const bad of ["a\r\nX-Injected: 1", "a\nb", "a\0b"]) {
      expect(() =>
        renderTemplate(template({ headers: [{ name: "X-Refresh", value: "{{refreshToken}}" }] }), {
          refreshToken: bad,
        }),
      ).toThrow(TemplateRenderError);
    }
  });

  it("encodes by context: url, JSON body, form body, header", () => {
    const value = 'a"b&c=d e\\f';
    const json = renderTemplate(
      template({
        endpoint: "https://tokens.example/refresh?c={{clientId}}",
        headers: [{ name: "X-Refresh", value: "{{refreshToken}}" }],
        body: '{"t":"{{refreshToken}}"}',
      }),
      { refreshToken: value, clientId: value },
    );
    expect(json.url.searchParams.get("c")).toBe(value);
    expect(JSON.parse(json.body ?? "")).toEqual({ t: value });
    expect(json.headers["x-refresh"]).toBe(value);
    expect(json.headers["content-type"]).toBe("application/json");
    const form = renderTemplate(template({ body: "t={{refreshToken}}&x=1" }), {
      refreshToken: value,
    });
    expect(Object.fromEntries(new URLSearchParams(form.body ?? ""))).toEqual({ t: value, x: "1" });
  });

  it("refuses a placeholder without a value rather than sending it empty", () => {
    expect(() => renderTemplate(template({ body: "t={{clientSecret}}" }), {})).toThrow(
      /clientSecret/,
    );
  });

  it("reads nested paths, and an expiry as seconds, as a timestamp or as a fixed duration", () => {
    expect(readPath({ a: { b: [{ c: "x" }] } }, "a.b.0.c")).toBe("x");
    expect(readPath({ a: {} }, "a.b.c")).toBeUndefined();
    const now = Date.UTC(2026, 0, 1);
    const document = { t: { a: "at", r: "rt", ttl: "120", at: "2026-01-01T01:00:00Z" } };
    expect(
      mapTemplateResponse(
        template({ accessTokenPath: "t.a", refreshTokenPath: "t.r", expiresInPath: "t.ttl" }),
        document,
        now,
      ),
    ).toEqual({
      accessToken: "at",
      refreshToken: "rt",
      expiresAt: new Date(now + 120_000),
      updated: ["accessToken", "refreshToken", "expiresAt"],
    });
    expect(
      mapTemplateResponse(
        template({ accessTokenPath: "t.a", expiresAtPath: "t.at" }),
        document,
        now,
      )?.expiresAt,
    ).toEqual(new Date(now + 3600_000));
    expect(
      mapTemplateResponse(
        template({ accessTokenPath: "t.a", accessTokenDurationMinutes: 5 }),
        document,
        now,
      ),
    ).toMatchObject({ expiresAt: new Date(now + 300_000), updated: ["accessToken", "expiresAt"] });
    expect(
      mapTemplateResponse(template({ accessTokenPath: "t.missing" }), document, now),
    ).toBeNull();
  });

  it("treats only placeholders (and whitespace) as not secret", () => {
    expect(isPlaceholdersOnly("{{refreshToken}}")).toBe(true);
    expect(isPlaceholdersOnly(" {{clientId}} {{clientSecret}} ")).toBe(true);
    expect(isPlaceholdersOnly("Bearer {{accessToken}}")).toBe(false);
    expect(isPlaceholdersOnly("application/json")).toBe(false);
    expect(isPlaceholdersOnly("")).toBe(false);
  });
});
