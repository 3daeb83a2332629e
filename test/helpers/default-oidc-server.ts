// oidc-provider as it ships: its default policies, driven through its own login and consent
// pages the way a browser would. Where test/helpers/oidc-server.ts adapts the provider to keyport
// (refresh tokens without offline_access, its own interaction pages, rotation always on), this
// one changes nothing that decides behaviour:
//
// - interactions: oidc-provider's devInteractions (on by default), with its default prompt
//   policy: login, then consent for every scope not yet granted;
// - offline_access: the default issueRefreshToken (a refresh token only when offline_access is
//   granted) and the default rule that drops offline_access unless prompt=consent is sent;
// - rotation: the default rotateRefreshToken, which for a confidential client rotates a refresh
//   token once 70% of its lifetime has passed (ageRefreshToken() moves a token there);
// - clients authenticate with client_secret_basic, the default.
//
// What it does set: the clients, the `email` claim (so the `email` scope exists, as at every
// public provider), its own signing key, cookie keys and in-memory store, so servers in one
// process stay apart. The id_token of each code grant is kept in `issuedIdTokens`.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { decodeJwt, type JWTPayload } from "jose";
// @ts-expect-error -- oidc-provider ships no type declarations; what is used is typed below.
import OidcProvider from "oidc-provider";
// @ts-expect-error -- internal module without types: a store per server, reachable by the test.
import { createMemoryAdapter } from "oidc-provider/lib/adapters/memory_adapter.js";

export type DefaultOidcServer = {
  /** http://127.0.0.1:PORT */
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  jwksUrl: string;
  counts: {
    authorizationCodeGrants: number;
    refreshGrants: number;
    revokedGrants: number;
    grantErrors: string[];
  };
  /** Claims of every id_token issued by the code grant, oldest first. */
  issuedIdTokens: JWTPayload[];
  /** Follows an authorization URL through login and consent; returns the redirect to the client. */
  authorize(authorizationUrl: string, options?: { login?: string }): Promise<URL>;
  /** Moves a refresh token's issue time back so that `fraction` of its lifetime has passed. */
  ageRefreshToken(refreshToken: string, fraction: number): Promise<void>;
  close(): Promise<void>;
};

type Provider = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  on(event: string, listener: (ctx: EventContext, ...rest: unknown[]) => void): void;
};
type EventContext = { oidc?: { params?: { grant_type?: unknown } }; body?: unknown };
type StoredToken = { iat: number; exp: number };
type Adapter = { find(id: string): Promise<StoredToken | undefined> };

export async function startDefaultOidcServer(options: {
  clients: { clientId: string; clientSecret: string; redirectUris: string[] }[];
}): Promise<DefaultOidcServer> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const adapter = createMemoryAdapter() as (model: string) => Adapter;
  const Provider = OidcProvider as new (
    issuer: string,
    configuration: Record<string, unknown>,
  ) => Provider;
  const provider = new Provider(issuer, {
    adapter,
    jwks: {
      keys: [
        {
          ...privateKey.export({ format: "jwk" }),
          kid: randomBytes(8).toString("hex"),
          use: "sig",
        },
      ],
    },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    claims: { email: ["email", "email_verified"] },
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: client.clientSecret,
      redirect_uris: client.redirectUris,
      grant_types: ["authorization_code", "refresh_token"],
    })),
  });

  const counts: DefaultOidcServer["counts"] = {
    authorizationCodeGrants: 0,
    refreshGrants: 0,
    revokedGrants: 0,
    grantErrors: [],
  };
  const issuedIdTokens: JWTPayload[] = [];
  provider.on("grant.success", (ctx) => {
    const grantType = ctx.oidc?.params?.grant_type;
    if (grantType === "authorization_code") {
      counts.authorizationCodeGrants++;
      const body = ctx.body as { id_token?: string } | undefined;
      if (body?.id_token) issuedIdTokens.push(decodeJwt(body.id_token));
    } else if (grantType === "refresh_token") {
      counts.refreshGrants++;
    }
  });
  provider.on("grant.error", (_ctx, error) => {
    counts.grantErrors.push((error as { error?: string }).error ?? "unknown");
  });
  provider.on("grant.revoked", () => {
    counts.revokedGrants++;
  });
  provider.on("server_error", (_ctx, error) => console.error("oidc-provider server_error", error));
  handler = provider.callback();

  return {
    issuer,
    authorizationUrl: `${issuer}/auth`,
    tokenUrl: `${issuer}/token`,
    jwksUrl: `${issuer}/jwks`,
    counts,
    issuedIdTokens,
    authorize: (url, authorizeOptions) => browse(issuer, url, authorizeOptions?.login ?? "user-1"),
    async ageRefreshToken(refreshToken, fraction) {
      // Opaque refresh tokens are stored under their own value; the stored object is the one
      // the provider loads, so moving `iat` back is what the token's age is computed from.
      const stored = await adapter("RefreshToken").find(refreshToken);
      if (!stored) throw new Error("ageRefreshToken: unknown refresh token");
      const now = Math.floor(Date.now() / 1000);
      const remaining = stored.exp - now;
      stored.iat = Math.floor(now - (fraction / (1 - fraction)) * remaining);
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

/** A browser with a cookie jar: follows redirects, fills the login form (any password is
 * accepted by devInteractions) and submits the consent form, until it is sent off the issuer. */
async function browse(issuer: string, authorizationUrl: string, login: string): Promise<URL> {
  const cookies = new Map<string, string>();
  const origin = new URL(issuer).origin;
  let request: { url: URL; form?: URLSearchParams } = { url: new URL(authorizationUrl) };
  for (let step = 0; step < 20; step++) {
    const { url, form } = request;
    const response = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join("; "),
        ...(form ? { "content-type": "application/x-www-form-urlencoded" } : {}),
      },
      ...(form ? { body: form.toString() } : {}),
    });
    for (const header of response.headers.getSetCookie()) {
      const [pair = ""] = header.split(";");
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator).trim();
      const value = pair.slice(separator + 1);
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(header)) cookies.delete(name);
      else cookies.set(name, value);
    }
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, url);
      if (next.origin !== origin) return next;
      request = { url: next };
      continue;
    }
    const html = await response.text();
    const formMatch = /<form[^>]*action="([^"]+)"[^>]*method="post"[^>]*>([\s\S]*?)<\/form>/i.exec(
      html,
    );
    if (response.status !== 200 || !formMatch) {
      throw new Error(`browse: unexpected ${response.status} at ${url.pathname}`);
    }
    const fields = new URLSearchParams();
    for (const [input] of (formMatch[2] ?? "").matchAll(/<input[^>]*>/gi)) {
      const name = /name="([^"]*)"/.exec(input)?.[1];
      if (!name) continue;
      const value = /value="([^"]*)"/.exec(input)?.[1] ?? "";
      fields.set(name, name === "login" ? login : name === "password" ? "any password" : value);
    }
    request = { url: new URL(formMatch[1]?.replaceAll("&amp;", "&") ?? "", url), form: fields };
  }
  throw new Error("browse: too many steps");
}
