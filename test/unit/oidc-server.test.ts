// Proves the OIDC test harness behaves like the real authorization servers keyport talks to:
// code + PKCE, refresh rotation with reuse detection, client credentials, revocation, RFC 9207.
import { createHash, randomBytes } from "node:crypto";
import { createRemoteJWKSet, jwtVerify } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type OidcServer, startOidcServer } from "../helpers/oidc-server.js";

const redirectUri = "http://127.0.0.1:9/callback";
// Characters that must be form-urlencoded before base64 in client_secret_basic (RFC 6749 2.3.1).
const webSecret = "s3cr:t+with%odd/chars=";
const serviceSecret = "service:secret+%/=";

type TokenResponse = {
  access_token?: string;
  refresh_token?: string;
  id_token?: string;
  token_type?: string;
  expires_in?: number;
  scope?: string;
  error?: string;
};

let oidc: OidcServer;

beforeAll(async () => {
  oidc = await startOidcServer({
    clients: [
      { clientId: "web-app", clientSecret: webSecret, redirectUris: [redirectUri] },
      {
        clientId: "service",
        clientSecret: serviceSecret,
        grantTypes: ["client_credentials"],
        tokenEndpointAuthMethod: "client_secret_post",
      },
    ],
    accessTokenTtlSeconds: 600,
    scopes: ["read", "write"],
  });
});

afterAll(async () => {
  await oidc?.close();
});

beforeEach(() => {
  oidc.resetCounts();
});

function basicAuth(clientId: string, secret: string): string {
  const encode = (value: string) => new URLSearchParams({ v: value }).toString().slice(2);
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(secret)}`).toString("base64")}`;
}

async function tokenRequest(
  params: Record<string, string>,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: TokenResponse }> {
  const response = await fetch(oidc.tokenUrl, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: (await response.json()) as TokenResponse };
}

const webAuth = () => ({ authorization: basicAuth("web-app", webSecret) });

function pkcePair() {
  const verifier = randomBytes(32).toString("base64url");
  const challenge = createHash("sha256").update(verifier).digest("base64url");
  return { verifier, challenge };
}

function authorizationUrl(state: string, challenge: string, scope = "openid read"): string {
  const url = new URL(oidc.authorizationUrl);
  url.search = new URLSearchParams({
    response_type: "code",
    client_id: "web-app",
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  }).toString();
  return url.href;
}

/** Runs the browser part and the code exchange; returns the token response. */
async function loginAndExchange(accountId = "user-1") {
  const { verifier, challenge } = pkcePair();
  const state = randomBytes(8).toString("hex");
  const callback = await oidc.authorize(authorizationUrl(state, challenge), { accountId });
  expect(callback.searchParams.get("state")).toBe(state);
  const code = callback.searchParams.get("code");
  expect(code).toBeTruthy();
  return tokenRequest(
    {
      grant_type: "authorization_code",
      code: code ?? "",
      redirect_uri: redirectUri,
      code_verifier: verifier,
    },
    webAuth(),
  );
}

describe("oidc test server", () => {
  it("listens on 127.0.0.1 and publishes a discovery document", async () => {
    expect(oidc.issuer).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const response = await fetch(`${oidc.issuer}/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const discovery = (await response.json()) as Record<string, unknown>;
    expect(discovery).toMatchObject({
      issuer: oidc.issuer,
      authorization_endpoint: oidc.authorizationUrl,
      token_endpoint: oidc.tokenUrl,
      revocation_endpoint: oidc.revocationUrl,
      jwks_uri: oidc.jwksUrl,
      authorization_response_iss_parameter_supported: true,
      code_challenge_methods_supported: ["S256"],
    });
    expect(discovery.grant_types_supported).toEqual(
      expect.arrayContaining(["authorization_code", "refresh_token", "client_credentials"]),
    );
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(
      expect.arrayContaining(["client_secret_basic", "client_secret_post", "none"]),
    );
    expect(discovery.scopes_supported).toEqual(
      expect.arrayContaining(["openid", "offline_access", "read", "write"]),
    );
  });

  it("runs code + PKCE with client_secret_basic; issues access, refresh, id tokens", async () => {
    const { challenge } = pkcePair();
    const callback = await oidc.authorize(authorizationUrl("state-1", challenge), {
      accountId: "alice",
    });
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get("state")).toBe("state-1");
    // RFC 9207: the response says which issuer it came from.
    expect(callback.searchParams.get("iss")).toBe(oidc.issuer);
    const code = callback.searchParams.get("code") ?? "";
    expect(code).not.toBe("");

    // A wrong verifier is refused (PKCE is checked for confidential clients too).
    const wrong = await tokenRequest(
      {
        grant_type: "authorization_code",
        code,
        redirect_uri: redirectUri,
        code_verifier: pkcePair().verifier,
      },
      webAuth(),
    );
    expect(wrong.body.error).toBe("invalid_grant");

    const { verifier: v2, challenge: c2 } = pkcePair();
    const second = await oidc.authorize(authorizationUrl("state-2", c2), { accountId: "alice" });
    const { status, body } = await tokenRequest(
      {
        grant_type: "authorization_code",
        code: second.searchParams.get("code") ?? "",
        redirect_uri: redirectUri,
        code_verifier: v2,
      },
      webAuth(),
    );
    expect(status).toBe(200);
    expect(body.token_type).toBe("Bearer");
    expect(body.expires_in).toBe(600);
    expect(body.access_token).toBeTruthy();
    expect(body.refresh_token).toBeTruthy();
    expect(body.scope).toBe("openid read");
    const { payload, protectedHeader } = await jwtVerify(
      body.id_token ?? "",
      createRemoteJWKSet(new URL(oidc.jwksUrl)),
      { issuer: oidc.issuer, audience: "web-app" },
    );
    expect(payload.sub).toBe("alice");
    expect(protectedHeader.alg).toBe("RS256");
    expect(oidc.counts.authorizationCodeGrants).toBe(1);
    expect(oidc.counts.grantErrors).toEqual([
      { error: "invalid_grant", grantType: "authorization_code" },
    ]);
  });

  it("rejects client_secret_basic credentials that were not form-urlencoded", async () => {
    const { verifier, challenge } = pkcePair();
    const callback = await oidc.authorize(authorizationUrl("s", challenge));
    const raw = `Basic ${Buffer.from(`web-app:${webSecret}`).toString("base64")}`;
    const { status, body } = await tokenRequest(
      {
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") ?? "",
        redirect_uri: redirectUri,
        code_verifier: verifier,
      },
      { authorization: raw },
    );
    // "%od" in the raw secret is not valid percent-encoding, so the header is malformed.
    expect(status).toBe(400);
    expect(body.error).toBe("invalid_request");
  });

  it("rotates refresh tokens, and reusing an old one revokes the whole grant", async () => {
    const first = await loginAndExchange();
    const original = first.body.refresh_token ?? "";

    const refreshed = await tokenRequest(
      { grant_type: "refresh_token", refresh_token: original },
      webAuth(),
    );
    expect(refreshed.status).toBe(200);
    expect(refreshed.body.access_token).toBeTruthy();
    const rotated = refreshed.body.refresh_token ?? "";
    expect(rotated).toBeTruthy();
    expect(rotated).not.toBe(original);
    expect(oidc.counts.refreshGrants).toBe(1);

    const reuse = await tokenRequest(
      { grant_type: "refresh_token", refresh_token: original },
      webAuth(),
    );
    expect(reuse.status).toBe(400);
    expect(reuse.body.error).toBe("invalid_grant");
    expect(oidc.counts.revokedGrants).toBe(1);

    // The reuse took the newest refresh token down with the grant.
    const afterReuse = await tokenRequest(
      { grant_type: "refresh_token", refresh_token: rotated },
      webAuth(),
    );
    expect(afterReuse.body.error).toBe("invalid_grant");
    expect(oidc.counts.refreshGrants).toBe(1);
    expect(oidc.counts.grantErrors).toEqual([
      { error: "invalid_grant", grantType: "refresh_token" },
      { error: "invalid_grant", grantType: "refresh_token" },
    ]);
  });

  it("issues client_credentials tokens with client_secret_post", async () => {
    const { status, body } = await tokenRequest({
      grant_type: "client_credentials",
      client_id: "service",
      client_secret: serviceSecret,
      scope: "read write",
    });
    expect(status).toBe(200);
    expect(body.access_token).toBeTruthy();
    expect(body.refresh_token).toBeUndefined();
    expect(body.scope).toBe("read write");
    expect(oidc.counts.clientCredentialsGrants).toBe(1);

    const wrongSecret = await tokenRequest({
      grant_type: "client_credentials",
      client_id: "service",
      client_secret: "nope",
    });
    expect(wrongSecret.body.error).toBe("invalid_client");
    expect(oidc.counts.grantErrors).toEqual([
      { error: "invalid_client", grantType: "client_credentials" },
    ]);
  });

  it("revokes a refresh token at the revocation endpoint", async () => {
    const { body } = await loginAndExchange();
    const response = await fetch(oidc.revocationUrl, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", ...webAuth() },
      body: new URLSearchParams({
        token: body.refresh_token ?? "",
        token_type_hint: "refresh_token",
      }).toString(),
    });
    expect(response.status).toBe(200);
    expect(oidc.counts.revocations).toBe(1);
    expect(oidc.counts.revokedGrants).toBe(1);

    const refresh = await tokenRequest(
      { grant_type: "refresh_token", refresh_token: body.refresh_token ?? "" },
      webAuth(),
    );
    expect(refresh.body.error).toBe("invalid_grant");
  });

  it("redirects with error=access_denied when the user denies", async () => {
    const { challenge } = pkcePair();
    const callback = await oidc.authorize(authorizationUrl("denied", challenge), { deny: true });
    expect(callback.origin + callback.pathname).toBe(redirectUri);
    expect(callback.searchParams.get("error")).toBe("access_denied");
    expect(callback.searchParams.get("state")).toBe("denied");
    expect(callback.searchParams.get("iss")).toBe(oidc.issuer);
    expect(callback.searchParams.has("code")).toBe(false);
  });

  it("does not rotate refresh tokens when rotateRefreshToken is false", async () => {
    const server = await startOidcServer({
      clients: [{ clientId: "public", redirectUris: [redirectUri] }],
      rotateRefreshToken: false,
    });
    try {
      // A public client: PKCE is mandatory, so a request without it is refused.
      const noPkce = new URL(server.authorizationUrl);
      noPkce.search = new URLSearchParams({
        response_type: "code",
        client_id: "public",
        redirect_uri: redirectUri,
        scope: "openid",
      }).toString();
      const refused = await server.authorize(noPkce.href);
      expect(refused.searchParams.get("error")).toBe("invalid_request");

      const { verifier, challenge } = pkcePair();
      const url = new URL(noPkce);
      url.searchParams.set("code_challenge", challenge);
      url.searchParams.set("code_challenge_method", "S256");
      const callback = await server.authorize(url.href);
      const post = (params: Record<string, string>) =>
        fetch(server.tokenUrl, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ client_id: "public", ...params }).toString(),
        }).then((response) => response.json() as Promise<TokenResponse>);
      const tokens = await post({
        grant_type: "authorization_code",
        code: callback.searchParams.get("code") ?? "",
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });
      expect(tokens.refresh_token).toBeTruthy();
      const refresh = () =>
        post({ grant_type: "refresh_token", refresh_token: tokens.refresh_token ?? "" });
      expect((await refresh()).refresh_token).toBe(tokens.refresh_token);
      expect((await refresh()).access_token).toBeTruthy();
      expect(server.counts.refreshGrants).toBe(2);
      expect(server.counts.revokedGrants).toBe(0);
    } finally {
      await server.close();
    }
  });
});
