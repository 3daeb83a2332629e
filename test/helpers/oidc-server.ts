// A real OAuth 2.0 / OpenID Connect authorization server (oidc-provider) for keyport's tests,
// listening on 127.0.0.1 with an ephemeral port.
//
//   const oidc = await startOidcServer({
//     clients: [{ clientId: "keyport", clientSecret: "s3cr:t", redirectUris: [callbackUrl] }],
//   });
//   // ...keyport builds an authorization URL against oidc.authorizationUrl...
//   const callback = await oidc.authorize(url);      // URL with code, state, iss (or error)
//   // ...keyport exchanges the code at oidc.tokenUrl...
//   await oidc.close();
//
// Exported API:
// - startOidcServer(options) -> OidcServer
//   - options.clients: clientId, clientSecret, redirectUris, grantTypes (default
//     ["authorization_code", "refresh_token"]), tokenEndpointAuthMethod (default
//     "client_secret_basic" with a secret, "none" without one).
//   - options.accessTokenTtlSeconds (default 3600; also used for client_credentials tokens).
//   - options.rotateRefreshToken (default true): every refresh returns a new refresh token and
//     reusing a rotated one fails with invalid_grant and revokes the whole grant.
//   - options.scopes: extra scopes besides openid and offline_access (e.g. "read", "write").
// - OidcServer: issuer (http://127.0.0.1:PORT, no trailing slash), the endpoint URLs, live
//   `counts` (reset with resetCounts()), authorize() and close().
//
// Counters come from oidc-provider events: "grant.success" (by grant_type), "grant.error" (every
// failed token request), "grant.revoked" (reuse detection, or revoking a refresh token). No event
// marks a successful revocation, so `revocations` counts 200 answers from /token/revocation.
// Note that oidc-provider lets a client_secret_basic client authenticate with client_secret_post
// too (and vice versa); only the secret is checked, not which of the two methods carries it.
//
// Refresh tokens: the code grant returns one whenever the client has the refresh_token grant type.
// keyport needs to send only `openid` (plus whatever other scopes it wants); neither
// offline_access nor prompt=consent is required. (oidc-provider silently drops offline_access
// unless prompt=consent is sent too; that is harmless here.) Refresh tokens do not die with the
// login session either.
//
// PKCE: S256 only; required for public clients (auth method "none"), optional for confidential.
// Authorization responses always carry RFC 9207 `iss`. Endpoints follow oidc-provider's defaults:
// /auth, /token, /token/revocation, /jwks, /me, /.well-known/openid-configuration.
//
// Login and consent are served by a minimal interaction handler here rather than oidc-provider's
// devInteractions, which print a warning on every start. The login page accepts any account id.
// Each authorize() call is a fresh browser (empty cookie jar), so it always logs in and consents;
// it handles response_mode=query (the default for response_type=code) only.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
// @ts-expect-error -- oidc-provider ships no type declarations; what is used is typed below.
import OidcProvider from "oidc-provider";
// @ts-expect-error -- internal module without types. Passing this per-server store (rather than
// leaving `adapter` unset) keeps servers apart and skips the "in-memory adapter" warning.
import { createMemoryAdapter } from "oidc-provider/lib/adapters/memory_adapter.js";

export type OidcClientOptions = {
  clientId: string;
  clientSecret?: string;
  redirectUris?: string[];
  grantTypes?: string[];
  tokenEndpointAuthMethod?: "client_secret_basic" | "client_secret_post" | "none";
};

export type OidcServerOptions = {
  clients: OidcClientOptions[];
  /** Default 3600. */
  accessTokenTtlSeconds?: number;
  /** Default true: each refresh returns a new refresh token; reusing one revokes the grant. */
  rotateRefreshToken?: boolean;
  /** Extra scopes the server supports besides openid/offline_access (e.g. "read", "write"). */
  scopes?: string[];
};

export type OidcCounts = {
  authorizationCodeGrants: number;
  refreshGrants: number;
  clientCredentialsGrants: number;
  /** Revocation endpoint calls answered 200 (RFC 7009 answers 200 for unknown tokens too). */
  revocations: number;
  /** Grants revoked: by refresh token reuse detection, or by revoking a refresh token. */
  revokedGrants: number;
  /** Every failed token endpoint call. */
  grantErrors: { error: string; grantType: string | undefined }[];
};

export type OidcServer = {
  /** e.g. http://127.0.0.1:PORT (no trailing slash) */
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  revocationUrl: string;
  jwksUrl: string;
  /** Live counters, incremented from oidc-provider events. */
  counts: OidcCounts;
  resetCounts(): void;
  /** Follows an authorization URL through the login and consent pages like a browser (cookies kept,
   *  redirects followed manually) and returns the final redirect to the client's redirect_uri
   *  (a URL with code, state and iss — or error). */
  authorize(authorizationUrl: string, options?: AuthorizeOptions): Promise<URL>;
  close(): Promise<void>;
};

export type AuthorizeOptions = {
  /** Who logs in; becomes the id_token's `sub`. Default "user-1". */
  accountId?: string;
  /** The user aborts instead of logging in, so the redirect carries error=access_denied. */
  deny?: boolean;
};

// The parts of oidc-provider (a Koa application) this harness touches.
type KoaContext = {
  method: string;
  path: string;
  status: number;
  body: unknown;
  type: string;
  req: IncomingMessage;
  res: ServerResponse;
  redirect(url: string): void;
};
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
type EventContext = { oidc?: { params?: { grant_type?: unknown } } };
type Interaction = {
  uid: string;
  prompt: {
    name: string;
    details: { missingOIDCScope?: string[]; missingOIDCClaims?: string[] };
  };
  params: Record<string, unknown> & { client_id: string };
  session?: { accountId?: string };
  grantId?: string;
};
type Grant = {
  addOIDCScope(scope: string): void;
  addOIDCClaims(claims: string[]): void;
  save(): Promise<string>;
};
type Provider = {
  callback(): (req: IncomingMessage, res: ServerResponse) => void;
  use(middleware: Middleware): void;
  on(event: "grant.success", listener: (ctx: EventContext) => void): void;
  on(event: "grant.error", listener: (ctx: EventContext, error: { error?: string }) => void): void;
  on(event: "grant.revoked", listener: (ctx: EventContext, grantId: string) => void): void;
  on(event: "server_error", listener: (ctx: EventContext, error: unknown) => void): void;
  interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
  interactionResult(
    req: IncomingMessage,
    res: ServerResponse,
    result: Record<string, unknown>,
    options?: { mergeWithLastSubmission?: boolean },
  ): Promise<string>;
  Grant: {
    new (init: { accountId: string; clientId: string }): Grant;
    find(id: string): Promise<Grant | undefined>;
  };
};
type ProviderClass = new (issuer: string, configuration: Record<string, unknown>) => Provider;

const routes = {
  authorization: "/auth",
  token: "/token",
  revocation: "/token/revocation",
  jwks: "/jwks",
};
const interactionPath = /^\/interaction\/([\w-]+)(?:\/(login|confirm|abort))?$/;

export async function startOidcServer(options: OidcServerOptions): Promise<OidcServer> {
  const accessTokenTtl = options.accessTokenTtlSeconds ?? 3600;
  const rotateRefreshToken = options.rotateRefreshToken ?? true;

  // The issuer embeds the port, so listen first and attach the provider afterwards.
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server = createServer((req, res) => {
    if (handler) handler(req, res);
    else res.writeHead(503).end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;

  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const signingKey = {
    ...privateKey.export({ format: "jwk" }),
    kid: randomBytes(8).toString("hex"),
    alg: "RS256",
    use: "sig",
  };

  const Provider = OidcProvider as ProviderClass;
  const provider = new Provider(issuer, {
    adapter: createMemoryAdapter(),
    jwks: { keys: [signingKey] },
    cookies: { keys: [randomBytes(32).toString("base64url")] },
    clients: options.clients.map(toClientMetadata),
    scopes: ["openid", "offline_access", ...(options.scopes ?? [])],
    routes,
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      revocation: { enabled: true, allowedPolicy: async () => true },
    },
    interactions: { url: async (_ctx: unknown, { uid }: { uid: string }) => `/interaction/${uid}` },
    pkce: { required: (_ctx: unknown, client: ClientLike) => client.clientAuthMethod === "none" },
    // Refresh tokens for every code grant of a client allowed to refresh, without offline_access.
    issueRefreshToken: async (_ctx: unknown, client: ClientLike) =>
      client.grantTypeAllowed("refresh_token"),
    // By default tokens without offline_access die with the login session; keyport's must not.
    expiresWithSession: async () => false,
    rotateRefreshToken,
    findAccount: async (_ctx: unknown, sub: string) => ({
      accountId: sub,
      claims: async () => ({ sub }),
    }),
    // Explicit values (and the hooks below) avoid oidc-provider's "you SHOULD change" notices.
    ttl: {
      AccessToken: accessTokenTtl,
      ClientCredentials: accessTokenTtl,
      AuthorizationCode: 60,
      IdToken: 3600,
      RefreshToken: 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    clientBasedCORS: () => true,
    renderError: async (ctx: KoaContext, out: Record<string, string>) => {
      ctx.type = "json";
      ctx.body = out;
    },
  });

  const counts: OidcCounts = {
    authorizationCodeGrants: 0,
    refreshGrants: 0,
    clientCredentialsGrants: 0,
    revocations: 0,
    revokedGrants: 0,
    grantErrors: [],
  };
  const grantTypeOf = (ctx: EventContext) => {
    const grantType = ctx.oidc?.params?.grant_type;
    return typeof grantType === "string" ? grantType : undefined;
  };
  provider.on("grant.success", (ctx) => {
    const grantType = grantTypeOf(ctx);
    if (grantType === "authorization_code") counts.authorizationCodeGrants++;
    else if (grantType === "refresh_token") counts.refreshGrants++;
    else if (grantType === "client_credentials") counts.clientCredentialsGrants++;
  });
  provider.on("grant.error", (ctx, error) => {
    counts.grantErrors.push({ error: error.error ?? "unknown", grantType: grantTypeOf(ctx) });
  });
  provider.on("grant.revoked", () => {
    counts.revokedGrants++;
  });
  // A server_error is a bug in this harness or oidc-provider, not a test outcome: say so.
  provider.on("server_error", (_ctx, error) => {
    console.error("oidc-server: server_error", error);
  });

  // oidc-provider emits no event for a successful revocation, so watch the endpoint's responses.
  provider.use(async (ctx, next) => {
    await next();
    if (ctx.method === "POST" && ctx.path === routes.revocation && ctx.status === 200) {
      counts.revocations++;
    }
  });
  provider.use(interactions(provider));

  handler = provider.callback();

  return {
    issuer,
    authorizationUrl: issuer + routes.authorization,
    tokenUrl: issuer + routes.token,
    revocationUrl: issuer + routes.revocation,
    jwksUrl: issuer + routes.jwks,
    counts,
    resetCounts() {
      counts.authorizationCodeGrants = 0;
      counts.refreshGrants = 0;
      counts.clientCredentialsGrants = 0;
      counts.revocations = 0;
      counts.revokedGrants = 0;
      counts.grantErrors.length = 0;
    },
    authorize: (authorizationUrl, authorizeOptions) =>
      authorize(issuer, authorizationUrl, authorizeOptions ?? {}),
    close: async () => {
      // Keep-alive connections from fetch would hold close() open.
      server.closeAllConnections();
      await new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
    },
  };
}

type ClientLike = { clientAuthMethod: string; grantTypeAllowed(grantType: string): boolean };

function toClientMetadata(client: OidcClientOptions): Record<string, unknown> {
  const grantTypes = client.grantTypes ?? ["authorization_code", "refresh_token"];
  return {
    client_id: client.clientId,
    ...(client.clientSecret !== undefined && { client_secret: client.clientSecret }),
    redirect_uris: client.redirectUris ?? [],
    grant_types: grantTypes,
    // A client without the code grant (e.g. client_credentials only) has no response types.
    response_types: grantTypes.includes("authorization_code") ? ["code"] : [],
    token_endpoint_auth_method:
      client.tokenEndpointAuthMethod ??
      (client.clientSecret === undefined ? "none" : "client_secret_basic"),
  };
}

/**
 * Login and consent pages. GET /interaction/:uid renders a page with named forms; POSTs to
 * /login (field `login` = account id), /confirm and /abort finish the interaction and 303 back
 * to the authorization endpoint, as oidc-provider's devInteractions do.
 */
function interactions(provider: Provider): Middleware {
  return async (ctx, next) => {
    const match = interactionPath.exec(ctx.path);
    if (!match) return next();
    const action = match[2];
    const { req, res } = ctx;
    ctx.res.setHeader("Cache-Control", "no-store");

    if (ctx.method === "GET" && !action) {
      const { uid, prompt } = await provider.interactionDetails(req, res);
      const form = (name: string, path: string, fields: string) =>
        `<form name="${name}" method="post" action="/interaction/${uid}/${path}">${fields}</form>`;
      const main =
        prompt.name === "login"
          ? form("login", "login", '<input name="login" value=""><button>Sign in</button>')
          : form("consent", "confirm", "<button>Allow</button>");
      const abort = form("abort", "abort", "<button>Cancel</button>");
      ctx.type = "html";
      ctx.body = `<!DOCTYPE html><title>${prompt.name}</title><body>${main}${abort}</body>`;
      return;
    }
    if (ctx.method !== "POST" || !action) return next();

    const body = new URLSearchParams(await readBody(req));
    const details = await provider.interactionDetails(req, res);
    let result: Record<string, unknown>;
    if (action === "abort") {
      result = { error: "access_denied", error_description: "End-User aborted interaction" };
    } else if (action === "login") {
      result = { login: { accountId: body.get("login") || "user-1" } };
    } else {
      result = { consent: { grantId: await grantConsent(provider, details) } };
    }
    const returnTo = await provider.interactionResult(req, res, result, {
      mergeWithLastSubmission: action === "confirm",
    });
    ctx.redirect(returnTo);
    ctx.status = 303;
  };
}

/** Grants whatever the consent prompt says is missing (scopes, claims). */
async function grantConsent(provider: Provider, interaction: Interaction): Promise<string> {
  const { details } = interaction.prompt;
  const grant =
    (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ??
    new provider.Grant({
      accountId: interaction.session?.accountId ?? "",
      clientId: interaction.params.client_id,
    });
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(" "));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  return grant.save();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

/** A browser's worth of cookie handling: name, value and path; expired cookies are dropped. */
class CookieJar {
  #cookies = new Map<string, { name: string; value: string; path: string }>();

  store(response: Response): void {
    for (const header of response.headers.getSetCookie()) {
      const [pair = "", ...attributes] = header.split(";").map((part) => part.trim());
      const separator = pair.indexOf("=");
      const name = pair.slice(0, separator);
      const value = pair.slice(separator + 1);
      let path = "/";
      let expired = false;
      for (const attribute of attributes) {
        const [key = "", attributeValue = ""] = attribute.split("=");
        if (key.toLowerCase() === "path") path = attributeValue;
        if (key.toLowerCase() === "max-age" && Number(attributeValue) <= 0) expired = true;
        if (key.toLowerCase() === "expires" && Date.parse(attributeValue) <= Date.now()) {
          expired = true;
        }
      }
      if (expired) this.#cookies.delete(`${name};${path}`);
      else this.#cookies.set(`${name};${path}`, { name, value, path });
    }
  }

  header(url: URL): string {
    return [...this.#cookies.values()]
      .filter(
        ({ path }) => url.pathname === path || url.pathname.startsWith(`${path}/`) || path === "/",
      )
      .map(({ name, value }) => `${name}=${value}`)
      .join("; ");
  }
}

async function authorize(
  issuer: string,
  authorizationUrl: string,
  { accountId = "user-1", deny = false }: AuthorizeOptions,
): Promise<URL> {
  const jar = new CookieJar();
  const issuerOrigin = new URL(issuer).origin;
  let request: { url: URL; form?: URLSearchParams } = { url: new URL(authorizationUrl) };

  for (let step = 0; step < 20; step++) {
    const { url, form } = request;
    const response = await fetch(url, {
      method: form ? "POST" : "GET",
      redirect: "manual",
      headers: {
        cookie: jar.header(url),
        ...(form && { "content-type": "application/x-www-form-urlencoded" }),
      },
      ...(form && { body: form.toString() }),
    });
    jar.store(response);

    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      await response.body?.cancel();
      const next = new URL(location, url);
      // Leaving the authorization server means we have reached the client's redirect_uri.
      if (next.origin !== issuerOrigin) return next;
      request = { url: next };
      continue;
    }

    const text = await response.text();
    const forms = new Map(
      [...text.matchAll(/<form name="(\w+)" method="post" action="([^"]+)">/g)].map(
        ([, name, action]) => [name, new URL(action ?? "", url)],
      ),
    );
    if (response.status !== 200 || forms.size === 0) {
      throw new Error(`authorize: unexpected ${response.status} from ${url.href}: ${text}`);
    }
    const abort = forms.get("abort");
    const login = forms.get("login");
    const consent = forms.get("consent");
    if (deny && abort) request = { url: abort, form: new URLSearchParams() };
    else if (login) request = { url: login, form: new URLSearchParams({ login: accountId }) };
    else if (consent) request = { url: consent, form: new URLSearchParams() };
    else throw new Error(`authorize: no form to submit at ${url.href}`);
  }
  throw new Error("authorize: too many redirects");
}
