// HTTP client for OAuth 2.0 token endpoints (RFC 6749 §3.2, §5). It knows nothing of GraphQL or
// the database: it sends one token request, retries transient failures, and classifies the
// outcome. Everything it returns or throws, other than the TokenResponse itself, is built from
// fixed phrases, status codes and allow-listed OAuth error codes, because token endpoints echo
// requests (refresh tokens, codes) back in their error bodies and HTTP client errors can carry
// request details.
import { setTimeout as delay } from "node:timers/promises";
import { type Outbound, OutboundError, OutboundRefusedError } from "../../lib/outbound.js";

export type CredentialErrorCode =
  | "INVALID_CREDENTIALS"
  | "AUTHORIZATION_FAILED"
  | "TOKEN_REFRESH_FAILED"
  | "REFRESH_TOKEN_REVOKED"
  | "INVALID_REDIRECT_URI"
  | "INSUFFICIENT_SCOPES"
  | "ACCOUNT_MISMATCH"
  | "CONNECTION_REFUSED"
  | "PROVIDER_UNAVAILABLE"
  | "RATE_LIMITED"
  | "ENDPOINT_NOT_ALLOWED"
  | "AUTHORIZATION_DENIED";

export type ClientAuthentication = {
  clientId: string;
  clientSecret: string | null;
  method: "CLIENT_SECRET_BASIC" | "CLIENT_SECRET_POST";
};

export type TokenRequest = {
  /** The outbound path (address policy, size and time caps) the request is sent through. */
  outbound: Outbound;
  tokenUrl: string;
  /** grant_type and its parameters, e.g. { grant_type: "refresh_token", refresh_token: "…" } */
  parameters: Record<string, string>;
  client: ClientAuthentication;
  /** Per attempt. */
  timeoutMs: number;
  /** 3 in production; transient failures retry up to this many attempts in total. */
  maxAttempts: number;
};

export type TokenResponse = {
  accessToken: string;
  tokenType: string;
  refreshToken: string | null;
  expiresIn: number | null;
  scope: string | null;
  idToken: string | null;
  /** The response's other members (never the tokens), for provider fields such as Salesforce's
   * `instance_url` or Slack's `team`. */
  extra: Record<string, unknown>;
};

export type TokenAttempt = {
  outcome: "success" | "failure";
  httpStatus: number | null;
  errorCode: CredentialErrorCode | null;
  oauthError: string | null;
  durationMs: number;
};

export type TokenClientHooks = {
  onAttempt?(attempt: TokenAttempt): void;
  sleep?(ms: number): Promise<void>;
  random?(): number;
};

export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 4_000;
/** A longer Retry-After stops the retries: the caller holds a refresh lease meanwhile. */
export const RETRY_AFTER_CAP_MS = 30_000;

/** The longest Retry-After honoured: three attempt timeouts, at most 30 s. A longer wait ends the
 * retries, so a whole request stays within a bound the refresh lease can outlive. */
export function retryAfterCapMs(timeoutMs: number): number {
  return Math.min(RETRY_AFTER_CAP_MS, Math.max(1_000, timeoutMs * 3));
}
/** The longest lifetime taken from `expires_in`: a year. Longer claims are cut to it, so a
 * provider's number can never overflow a date. */
export const MAX_EXPIRES_IN_SECONDS = 365 * 24 * 60 * 60;

// Error codes registered by RFC 6749, 6750, 8628, 8693 and 9449. Only these may be reported: an
// endpoint that echoes the request can put a secret in the `error` field itself.
const REGISTERED_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "access_denied",
  "unsupported_response_type",
  "server_error",
  "temporarily_unavailable",
  "invalid_token",
  "insufficient_scope",
  "invalid_target",
  "authorization_pending",
  "slow_down",
  "expired_token",
  "invalid_dpop_proof",
  "use_dpop_nonce",
]);

/** The answers that mean the grant or the client is dead: retrying later cannot help, so only
 * these make a credential INVALID. Everything else may heal when the provider does. */
const PERMANENT_OAUTH_ERRORS: ReadonlySet<string> = new Set([
  "invalid_grant",
  "invalid_client",
  "unauthorized_client",
]);

export class TokenEndpointError extends Error {
  override readonly name = "TokenEndpointError";
  readonly code: CredentialErrorCode;
  readonly oauthError: string | null;
  readonly httpStatus: number | null;
  /** Worth another attempt within the same request (5xx, 408, 429, timeouts, network). */
  readonly transient: boolean;
  /** The grant or client was refused for good (see PERMANENT_OAUTH_ERRORS). */
  readonly permanent: boolean;
  readonly attempts: TokenAttempt[];

  constructor(fields: {
    code: CredentialErrorCode;
    /** A fixed phrase: never text from the request, the response or an HTTP client error. */
    message: string;
    oauthError: string | null;
    httpStatus: number | null;
    transient: boolean;
    attempts: TokenAttempt[];
    /** Refused for good although no OAuth error says so (a configured token request's 401). */
    permanent?: boolean;
  }) {
    const count = fields.attempts.length;
    // No `cause`: the underlying fetch error may hold the request (and its secrets).
    super(count > 1 ? `${fields.message} after ${count} attempts` : fields.message);
    this.code = fields.code;
    this.oauthError = fields.oauthError;
    this.httpStatus = fields.httpStatus;
    this.transient = fields.transient;
    this.permanent =
      fields.permanent ??
      (fields.oauthError !== null && PERMANENT_OAUTH_ERRORS.has(fields.oauthError));
    this.attempts = fields.attempts;
  }

  // Explicit, so serialising the error never picks up anything added to it later.
  toJSON(): Record<string, unknown> {
    return {
      name: this.name,
      message: this.message,
      code: this.code,
      oauthError: this.oauthError,
      httpStatus: this.httpStatus,
      transient: this.transient,
      permanent: this.permanent,
      attempts: this.attempts,
    };
  }
}

export type AttemptFailure = {
  code: CredentialErrorCode;
  message: string;
  httpStatus: number | null;
  oauthError: string | null;
  transient: boolean;
  retryAfterMs: number | null;
};

type AttemptResult = { ok: true; token: TokenResponse; httpStatus: number } | AttemptFailureResult;
type AttemptFailureResult = { ok: false; failure: AttemptFailure };

export async function requestToken(
  request: TokenRequest,
  hooks: TokenClientHooks = {},
): Promise<{ token: TokenResponse; attempts: TokenAttempt[] }> {
  const url = checkTokenUrl(request.tokenUrl);
  if (!Number.isFinite(request.timeoutMs) || request.timeoutMs <= 0) {
    throw new RangeError("timeoutMs must be a positive number");
  }
  const { headers, body } = buildRequest(request);
  return retryTokenAttempts(request, hooks, () => attemptOnce(url, headers, body, request));
}

/** One token request's outcome, as the retry loop sees it. */
export type TokenAttemptResult<Token> =
  | { ok: true; token: Token; httpStatus: number }
  | { ok: false; failure: AttemptFailure };

/**
 * The retry loop every token request shares (the OAuth token endpoint and bearer token-request
 * templates): transient failures retry with jittered backoff up to maxAttempts, within the
 * Retry-After budget; every attempt is recorded; the last failure is thrown as TokenEndpointError.
 */
export async function retryTokenAttempts<Token>(
  request: { maxAttempts: number; timeoutMs: number },
  hooks: TokenClientHooks,
  once: () => Promise<TokenAttemptResult<Token>>,
): Promise<{ token: Token; attempts: TokenAttempt[] }> {
  const maxAttempts = Math.max(1, Math.floor(request.maxAttempts) || 1);
  const sleep = hooks.sleep ?? ((ms: number) => delay(ms).then(() => undefined));
  const random = hooks.random ?? Math.random;
  const attempts: TokenAttempt[] = [];

  for (let attempt = 0; ; attempt++) {
    const started = performance.now();
    const result = await once();
    const durationMs = Math.round(performance.now() - started);
    const record: TokenAttempt = result.ok
      ? {
          outcome: "success",
          httpStatus: result.httpStatus,
          errorCode: null,
          oauthError: null,
          durationMs,
        }
      : {
          outcome: "failure",
          httpStatus: result.failure.httpStatus,
          errorCode: result.failure.code,
          oauthError: result.failure.oauthError,
          durationMs,
        };
    attempts.push(record);
    notify(hooks, record);

    if (result.ok) return { token: result.token, attempts };
    const { failure } = result;
    if (!failure.transient || attempt + 1 >= maxAttempts) {
      throw new TokenEndpointError({ ...failure, attempts });
    }
    if (
      failure.retryAfterMs !== null &&
      failure.retryAfterMs > retryAfterCapMs(request.timeoutMs)
    ) {
      const message = `${failure.message}; Retry-After exceeds the retry budget`;
      throw new TokenEndpointError({ ...failure, message, attempts });
    }
    await sleep(backoffDelayMs(attempt, failure.retryAfterMs, random));
  }
}

/**
 * Full-jitter exponential backoff: random() * min(cap, base * 2^attempt), where `attempt` is the
 * zero-based index of the attempt that just failed; never sooner than Retry-After.
 */
export function backoffDelayMs(
  attempt: number,
  retryAfterMs: number | null,
  random: () => number,
): number {
  const exponent = Math.max(0, Math.floor(attempt));
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** exponent);
  // Clamp so a misbehaving random source cannot produce a negative or oversized delay.
  const r = Math.min(1, Math.max(0, random()));
  const jittered = Math.floor((Number.isFinite(r) ? r : 1) * ceiling);
  return Math.max(jittered, retryAfterMs !== null && retryAfterMs > 0 ? retryAfterMs : 0);
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or HTTP-date, to ms from `now`. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (trimmed === "") return null;
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  // An HTTP-date always names a weekday or month; this keeps "1.5" or "-1" from parsing as dates.
  if (!/[a-z]/i.test(trimmed)) return null;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return null;
  return Math.max(0, at - now);
}

/** The longest requestToken can take (for lease lifetimes): every attempt times out and waits. */
export function maxRequestDurationMs(timeoutMs: number, maxAttempts: number): number {
  const attempts = Math.max(1, Math.floor(maxAttempts) || 1);
  return (
    attempts * timeoutMs + (attempts - 1) * Math.max(BACKOFF_CAP_MS, retryAfterCapMs(timeoutMs))
  );
}

/** The Authorization header value for client_secret_basic (RFC 6749 §2.3.1). */
export function encodeClientCredentialsForBasic(clientId: string, clientSecret: string): string {
  const pair = `${formEncode(clientId)}:${formEncode(clientSecret)}`;
  return `Basic ${Buffer.from(pair, "utf8").toString("base64")}`;
}

// application/x-www-form-urlencoded (RFC 6749 Appendix B): UTF-8 bytes, space as "+", and
// everything but ALPHA / DIGIT / "-" / "." / "_" / "~" percent-encoded. Hand-rolled because
// URLSearchParams leaves "*" bare and encodeURIComponent leaves "!'()*" bare and throws on lone
// surrogates (TextEncoder replaces them instead).
function formEncode(value: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(value)) {
    if (
      (byte >= 0x30 && byte <= 0x39) ||
      (byte >= 0x41 && byte <= 0x5a) ||
      (byte >= 0x61 && byte <= 0x7a) ||
      byte === 0x2d ||
      byte === 0x2e ||
      byte === 0x5f ||
      byte === 0x7e
    ) {
      out += String.fromCharCode(byte);
    } else if (byte === 0x20) {
      out += "+";
    } else {
      out += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
    }
  }
  return out;
}

function checkTokenUrl(tokenUrl: string): URL {
  let url: URL;
  try {
    url = new URL(tokenUrl);
  } catch {
    // The URL is not echoed: it may carry a key in its query string.
    throw new TypeError("tokenUrl is not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError("tokenUrl must be an http(s) URL");
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError("tokenUrl must not contain credentials");
  }
  return url;
}

function buildRequest(request: TokenRequest): { headers: Record<string, string>; body: string } {
  const { client } = request;
  const headers: Record<string, string> = {
    "content-type": "application/x-www-form-urlencoded",
    accept: "application/json",
  };
  // Client credentials come from `client` only, so exactly one authentication method is used.
  const parameters: [string, string][] = Object.entries(request.parameters).filter(
    ([name]) => name !== "client_id" && name !== "client_secret",
  );
  if (client.clientSecret === null) {
    // Public client: identify, do not authenticate (RFC 6749 §3.2.1).
    parameters.push(["client_id", client.clientId]);
  } else if (client.method === "CLIENT_SECRET_POST") {
    parameters.push(["client_id", client.clientId], ["client_secret", client.clientSecret]);
  } else {
    headers.authorization = encodeClientCredentialsForBasic(client.clientId, client.clientSecret);
  }
  const body = parameters.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`);
  return { headers, body: body.join("&") };
}

async function attemptOnce(
  url: URL,
  headers: Record<string, string>,
  body: string,
  request: TokenRequest,
): Promise<AttemptResult> {
  let response: Response;
  try {
    // The outbound path never follows redirects: one would resend the credentials elsewhere.
    response = await request.outbound.fetch(url, {
      method: "POST",
      headers,
      body,
      timeoutMs: request.timeoutMs,
    });
  } catch (error) {
    return { ok: false, failure: classifyFetchError(error, request.timeoutMs) };
  }

  const status = response.status;
  try {
    if (status >= 200 && status < 300) {
      const parsed = await readBody(response);
      const token = parsed === null ? null : toTokenResponse(parsed);
      if (token !== null) return { ok: true, token, httpStatus: status };
      // Some providers answer errors with 200; a registered error code is still an OAuth error.
      const oauthError = parsed === null ? null : registeredError(parsed.error);
      if (oauthError !== null && oauthError !== "unknown_error") {
        return classifyOAuthError(status, parsed, oauthError, request, response);
      }
      return failure({
        code: "PROVIDER_UNAVAILABLE",
        message: `token endpoint returned no usable access token (HTTP ${status})`,
        httpStatus: status,
      });
    }
    if (status === 429 || status === 408 || status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      return status === 429
        ? failure({
            code: "RATE_LIMITED",
            message: `token endpoint rate limited the request (HTTP ${status})`,
            httpStatus: status,
            transient: true,
            retryAfterMs,
          })
        : failure({
            code: "PROVIDER_UNAVAILABLE",
            message: `token endpoint is unavailable (HTTP ${status})`,
            httpStatus: status,
            transient: true,
            retryAfterMs,
          });
    }
    if (status >= 400) {
      const parsed = await readBody(response);
      const oauthError = parsed === null ? null : registeredError(parsed.error);
      return classifyOAuthError(status, parsed, oauthError, request, response);
    }
    // 1xx/3xx that fetch handed back (a 3xx without Location, say): not a token endpoint answer.
    await response.body?.cancel().catch(() => undefined);
    return failure({
      code: "PROVIDER_UNAVAILABLE",
      message: `token endpoint returned an unexpected status (HTTP ${status})`,
      httpStatus: status,
    });
  } catch (error) {
    // Reading the body failed: timed out, or the connection dropped mid-response.
    const classified = classifyFetchError(error, request.timeoutMs);
    return { ok: false, failure: { ...classified, httpStatus: status } };
  }
}

function classifyOAuthError(
  status: number,
  body: Record<string, unknown> | null,
  oauthError: string | null,
  request: TokenRequest,
  response: Response,
): AttemptFailureResult {
  const detail = oauthError === null ? `HTTP ${status}` : `${oauthError}, HTTP ${status}`;
  const base = { httpStatus: status, oauthError };

  // The description is only tested, never copied: it may echo the request.
  if (
    (oauthError === "invalid_grant" || oauthError === "invalid_request") &&
    mentionsRedirectUri(body?.error_description)
  ) {
    return failure({
      ...base,
      code: "INVALID_REDIRECT_URI",
      message: `token endpoint rejected the redirect URI (${detail})`,
    });
  }
  switch (oauthError) {
    case "invalid_grant":
      return request.parameters.grant_type === "refresh_token"
        ? failure({
            ...base,
            code: "REFRESH_TOKEN_REVOKED",
            message: `token endpoint rejected the refresh token (${detail})`,
          })
        : failure({
            ...base,
            code: "AUTHORIZATION_FAILED",
            message: `token endpoint rejected the authorization grant (${detail})`,
          });
    case "invalid_client":
    case "unauthorized_client":
      return failure({
        ...base,
        code: "AUTHORIZATION_FAILED",
        message: `token endpoint rejected the client (${detail})`,
      });
    case "invalid_scope":
      return failure({
        ...base,
        code: "INSUFFICIENT_SCOPES",
        message: `token endpoint rejected the requested scope (${detail})`,
      });
    // Registered codes that say "try again later", whatever the status they came with.
    case "server_error":
    case "temporarily_unavailable":
      return failure({
        ...base,
        code: "PROVIDER_UNAVAILABLE",
        message: `token endpoint is unavailable (${detail})`,
        transient: true,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), Date.now()),
      });
    case "slow_down":
      return failure({
        ...base,
        code: "RATE_LIMITED",
        message: `token endpoint rate limited the request (${detail})`,
        transient: true,
        retryAfterMs: parseRetryAfter(response.headers.get("retry-after"), Date.now()),
      });
  }
  if (status === 401) {
    return failure({
      ...base,
      code: "AUTHORIZATION_FAILED",
      message: `token endpoint rejected the client (${detail})`,
    });
  }
  if (oauthError === null) {
    // No OAuth error at all (a 404, a CDN's HTML 403): not the authorization server speaking.
    return failure({
      ...base,
      code: "PROVIDER_UNAVAILABLE",
      message: `token endpoint answered without an OAuth error (${detail})`,
    });
  }
  return failure({
    ...base,
    code: "AUTHORIZATION_FAILED",
    message: `token endpoint rejected the request (${detail})`,
  });
}

function failure(
  fields: Pick<AttemptFailure, "code" | "message" | "httpStatus"> & Partial<AttemptFailure>,
): AttemptFailureResult {
  return {
    ok: false,
    failure: { oauthError: null, transient: false, retryAfterMs: null, ...fields },
  };
}

export function classifyFetchError(error: unknown, timeoutMs: number): AttemptFailure {
  if (error instanceof OutboundRefusedError) {
    // Refused by the address policy before any connection; retrying cannot change that. Its
    // message names the host and the rule, never the path or query.
    return {
      code: "ENDPOINT_NOT_ALLOWED",
      message: `token endpoint not allowed: ${error.message}`,
      httpStatus: null,
      oauthError: null,
      transient: false,
      retryAfterMs: null,
    };
  }
  if (error instanceof OutboundError && error.kind === "too_large") {
    return {
      code: "PROVIDER_UNAVAILABLE",
      message: "token endpoint answered with an oversized response",
      httpStatus: null,
      oauthError: null,
      transient: false,
      retryAfterMs: null,
    };
  }
  const name = error instanceof Error || error instanceof DOMException ? error.name : "";
  if (
    (error instanceof OutboundError && error.kind === "timeout") ||
    name === "TimeoutError" ||
    name === "AbortError"
  ) {
    return {
      code: "PROVIDER_UNAVAILABLE",
      message: `token endpoint did not answer within ${timeoutMs} ms`,
      httpStatus: null,
      oauthError: null,
      transient: true,
      retryAfterMs: null,
    };
  }
  // A redirecting token endpoint is misconfigured, and retrying will not change that.
  if (error instanceof OutboundError && error.kind === "redirect") {
    return {
      code: "PROVIDER_UNAVAILABLE",
      message: "token endpoint answered with a redirect, which is not followed",
      httpStatus: null,
      oauthError: null,
      transient: false,
      retryAfterMs: null,
    };
  }
  // Refused, reset, DNS, TLS: the error itself is dropped, it may describe the request.
  return {
    code: "CONNECTION_REFUSED",
    message: "could not connect to the token endpoint",
    httpStatus: null,
    oauthError: null,
    transient: true,
    retryAfterMs: null,
  };
}

// Parses a JSON object (or, for providers that ignore `accept`, a form-encoded one); anything
// else is null. The outbound path cuts the body at its size cap (an error, classified above).
async function readBody(response: Response): Promise<Record<string, unknown> | null> {
  if (response.body === null) return null;
  const text = await response.text();
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : null;
  } catch {
    const type = response.headers.get("content-type") ?? "";
    if (!type.toLowerCase().includes("application/x-www-form-urlencoded")) return null;
    return Object.fromEntries(new URLSearchParams(text));
  }
}

function toTokenResponse(body: Record<string, unknown>): TokenResponse | null {
  const accessToken = nonEmptyString(body.access_token);
  if (accessToken === null) return null;
  return {
    accessToken,
    // token_type is required, but some providers omit it; every one of those issues bearer tokens.
    tokenType: nonEmptyString(body.token_type) ?? "Bearer",
    refreshToken: nonEmptyString(body.refresh_token),
    expiresIn: parseExpiresIn(body.expires_in),
    scope: parseScope(body.scope),
    idToken: nonEmptyString(body.id_token),
    extra: Object.fromEntries(
      Object.entries(body).filter(
        ([name]) => !["access_token", "refresh_token", "id_token"].includes(name),
      ),
    ),
  };
}

function parseExpiresIn(value: unknown): number | null {
  const seconds =
    typeof value === "number"
      ? value
      : typeof value === "string" && value.trim() !== ""
        ? Number(value)
        : Number.NaN;
  return Number.isFinite(seconds) && seconds > 0 ? Math.min(seconds, MAX_EXPIRES_IN_SECONDS) : null;
}

function parseScope(value: unknown): string | null {
  if (typeof value === "string") return value;
  // A few providers send an array; RFC 6749 §3.3 says space-delimited.
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) {
    return value.join(" ");
  }
  return null;
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function registeredError(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === "string" && REGISTERED_OAUTH_ERRORS.has(value) ? value : "unknown_error";
}

function mentionsRedirectUri(value: unknown): boolean {
  return typeof value === "string" && /redirect[\s_-]?ur[il]/i.test(value);
}

function notify(hooks: TokenClientHooks, attempt: TokenAttempt): void {
  try {
    // A copy: the hook must not be able to change what ends up in the error.
    hooks.onAttempt?.({ ...attempt });
  } catch {
    // Telemetry must not change the outcome of a token request.
  }
}
