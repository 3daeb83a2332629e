// A configured token request for providers without a standard token endpoint: the request is a
// template with {{placeholders}}, the response is read through JSON paths. Values are substituted
// by context (url-encoded in the URL and in form bodies, JSON-escaped in JSON bodies, refused in
// headers when they could split one), sent through the outbound path, retried like a token
// request and classified like one. Failures never carry a value from the request or response.
import type { Outbound } from "../../lib/outbound.js";
import {
  type AttemptFailure,
  classifyFetchError,
  MAX_EXPIRES_IN_SECONDS,
  parseRetryAfter,
  retryTokenAttempts,
  type TokenAttempt,
  type TokenClientHooks,
  TokenEndpointError,
} from "./token-client.js";

export const templatePlaceholders = [
  "refreshToken",
  "clientId",
  "clientSecret",
  "accessToken",
] as const;
export type TemplatePlaceholder = (typeof templatePlaceholders)[number];
export type TemplateValues = Partial<Record<TemplatePlaceholder, string>>;

const placeholderPattern = /\{\{\s*([A-Za-z]+)\s*\}\}/g;

export type TokenTemplate = {
  endpoint: string;
  method: "POST" | "GET" | "PUT";
  headers: { name: string; value: string }[];
  body: string | null;
  accessTokenPath: string;
  refreshTokenPath: string | null;
  expiresInPath: string | null;
  expiresAtPath: string | null;
  accessTokenDurationMinutes: number | null;
};

/** The placeholders a text uses (unknown names included, for validation). */
export function placeholdersIn(text: string): string[] {
  return [...text.matchAll(placeholderPattern)].map((match) => match[1] ?? "");
}

/** Whether a text is made of placeholders only (whitespace aside): such text is not a secret. */
export function isPlaceholdersOnly(text: string): boolean {
  return text.replace(placeholderPattern, "").trim() === "" && placeholdersIn(text).length > 0;
}

/** The placeholders a template uses anywhere. */
export function templateUses(template: Pick<TokenTemplate, "endpoint" | "headers" | "body">) {
  const texts = [template.endpoint, template.body ?? "", ...template.headers.map((h) => h.value)];
  return new Set(texts.flatMap(placeholdersIn));
}

type BodyEncoding = "json" | "form" | "raw";

function bodyEncoding(headers: { name: string; value: string }[], body: string): BodyEncoding {
  const type = headers.find((h) => h.name.toLowerCase() === "content-type")?.value.toLowerCase();
  if (type?.includes("json")) return "json";
  if (type?.includes("application/x-www-form-urlencoded")) return "form";
  if (type) return "raw";
  const trimmed = body.trimStart();
  return trimmed.startsWith("{") || trimmed.startsWith("[") ? "json" : "form";
}

const formEncode = (value: string) =>
  encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16)}`);

/** A template that cannot be filled in (a value that would split a header, a missing value). */
export class TemplateRenderError extends Error {
  override name = "TemplateRenderError";
}

function substitute(
  text: string,
  values: TemplateValues,
  encode: (value: string) => string,
  where: string,
): string {
  return text.replace(placeholderPattern, (_whole, name: string) => {
    const value = values[name as TemplatePlaceholder];
    if (value === undefined) {
      throw new TemplateRenderError(`the ${where} uses {{${name}}}, which has no value`);
    }
    return encode(value);
  });
}

export type RenderedRequest = {
  url: URL;
  method: TokenTemplate["method"];
  headers: Record<string, string>;
  body: string | null;
};

export function renderTemplate(template: TokenTemplate, values: TemplateValues): RenderedRequest {
  const endpoint = substitute(template.endpoint, values, encodeURIComponent, "endpoint");
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new TemplateRenderError("the endpoint is not a valid URL once filled in");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TemplateRenderError("the endpoint must be an http(s) URL");
  }
  const headers: Record<string, string> = { accept: "application/json" };
  for (const header of template.headers) {
    headers[header.name.toLowerCase()] = substitute(
      header.value,
      values,
      (value) => {
        // A value with CR, LF or NUL could end the header and start another.
        if (/[\r\n\0]/.test(value)) {
          throw new TemplateRenderError(
            `a value for the ${header.name} header contains a line break or NUL`,
          );
        }
        return value;
      },
      `${header.name} header`,
    );
  }
  let body: string | null = null;
  if (template.body !== null && template.body !== "" && template.method !== "GET") {
    const encoding = bodyEncoding(template.headers, template.body);
    const encode =
      encoding === "json"
        ? (value: string) => JSON.stringify(value).slice(1, -1)
        : encoding === "form"
          ? formEncode
          : (value: string) => value;
    body = substitute(template.body, values, encode, "body");
    if (!headers["content-type"]) {
      headers["content-type"] =
        encoding === "json" ? "application/json" : "application/x-www-form-urlencoded";
    }
  }
  return { url, method: template.method, headers, body };
}

/** Reads a dotted JSON path (`data.tokens.access`, `items.0.token`); undefined when absent. */
export function readPath(document: unknown, path: string): unknown {
  let current: unknown = document;
  for (const segment of path.replace(/^\$\.?/, "").split(".")) {
    if (segment === "") continue;
    if (current === null || typeof current !== "object") return undefined;
    if (!Object.hasOwn(current as object, segment)) return undefined;
    current = (current as Record<string, unknown>)[segment];
  }
  return current;
}

export type TemplateToken = {
  accessToken: string;
  refreshToken: string | null;
  expiresAt: Date | null;
  /** Which mapped values the response gave (names only). */
  updated: ("accessToken" | "refreshToken" | "expiresAt")[];
};

const tokenText = (value: unknown): string | null =>
  typeof value === "string" && value !== "" ? value : null;

function expiryOf(template: TokenTemplate, document: unknown, now: number): Date | null {
  if (template.expiresInPath) {
    const raw = readPath(document, template.expiresInPath);
    const seconds = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : raw;
    if (typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0) {
      return new Date(now + Math.min(seconds, MAX_EXPIRES_IN_SECONDS) * 1000);
    }
  }
  if (template.expiresAtPath) {
    const raw = readPath(document, template.expiresAtPath);
    // Epoch seconds (or milliseconds, when that large), or an ISO 8601 timestamp.
    const at =
      typeof raw === "number" && Number.isFinite(raw)
        ? raw > 1e12
          ? raw
          : raw * 1000
        : typeof raw === "string" && raw.trim() !== ""
          ? /^\d+$/.test(raw.trim())
            ? Number(raw) * 1000
            : Date.parse(raw)
          : Number.NaN;
    if (Number.isFinite(at) && at > now) {
      return new Date(Math.min(at, now + MAX_EXPIRES_IN_SECONDS * 1000));
    }
  }
  return null;
}

/** Maps a response document to a token, or null when the access token path gives nothing. */
export function mapTemplateResponse(
  template: TokenTemplate,
  document: unknown,
  now = Date.now(),
): TemplateToken | null {
  const accessToken = tokenText(readPath(document, template.accessTokenPath));
  if (accessToken === null) return null;
  const refreshToken = template.refreshTokenPath
    ? tokenText(readPath(document, template.refreshTokenPath))
    : null;
  const mapped = expiryOf(template, document, now);
  const expiresAt =
    mapped ??
    (template.accessTokenDurationMinutes
      ? new Date(now + template.accessTokenDurationMinutes * 60_000)
      : null);
  const updated: TemplateToken["updated"] = ["accessToken"];
  if (refreshToken !== null) updated.push("refreshToken");
  if (expiresAt !== null) updated.push("expiresAt");
  return { accessToken, refreshToken, expiresAt, updated };
}

type Outcome =
  | { ok: true; token: TemplateToken; httpStatus: number }
  | { ok: false; failure: AttemptFailure & { permanent?: boolean } };

const failed = (
  fields: Pick<AttemptFailure, "code" | "message" | "httpStatus"> &
    Partial<AttemptFailure> & { permanent?: boolean },
): Outcome => ({
  ok: false,
  failure: { oauthError: null, transient: false, retryAfterMs: null, ...fields },
});

async function readJson(response: Response): Promise<unknown> {
  if (response.body === null) return null;
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

const oauthLike = (document: unknown): string | null => {
  const error = readPath(document, "error");
  return typeof error === "string" && /^[a-z_]{1,64}$/.test(error) ? error : null;
};

async function attemptOnce(
  outbound: Outbound,
  rendered: RenderedRequest,
  template: TokenTemplate,
  timeoutMs: number,
): Promise<Outcome> {
  let response: Response;
  try {
    response = await outbound.fetch(rendered.url, {
      method: rendered.method,
      headers: rendered.headers,
      ...(rendered.body !== null ? { body: rendered.body } : {}),
      timeoutMs,
    });
  } catch (error) {
    return { ok: false, failure: classifyFetchError(error, timeoutMs) };
  }
  const status = response.status;
  try {
    if (status >= 200 && status < 300) {
      const document = await readJson(response);
      const token = document === null ? null : mapTemplateResponse(template, document);
      if (token) return { ok: true, token, httpStatus: status };
      return failed({
        code: "TOKEN_REFRESH_FAILED",
        message:
          document === null
            ? `token request answered without a JSON body (HTTP ${status})`
            : `token request response has no access token at accessTokenPath (HTTP ${status})`,
        httpStatus: status,
      });
    }
    if (status === 429 || status === 408 || status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      const retryAfterMs = parseRetryAfter(response.headers.get("retry-after"), Date.now());
      return failed({
        code: status === 429 ? "RATE_LIMITED" : "PROVIDER_UNAVAILABLE",
        message:
          status === 429
            ? `token request was rate limited (HTTP ${status})`
            : `token request endpoint is unavailable (HTTP ${status})`,
        httpStatus: status,
        transient: true,
        retryAfterMs,
      });
    }
    if (status === 401 || status === 400 || status === 403) {
      // Final only when clearly so: a 401, or an OAuth-style invalid_grant / invalid_client.
      const document = await readJson(response);
      const error = oauthLike(document);
      if (error === "invalid_grant") {
        return failed({
          code: "REFRESH_TOKEN_REVOKED",
          message: `token request refused the refresh token (invalid_grant, HTTP ${status})`,
          httpStatus: status,
          oauthError: error,
        });
      }
      if (status === 401 || error === "invalid_client") {
        return failed({
          code: "INVALID_CREDENTIALS",
          message: `token request refused the credentials (HTTP ${status})`,
          httpStatus: status,
          permanent: true,
        });
      }
      return failed({
        code: "TOKEN_REFRESH_FAILED",
        message: `token request was refused (HTTP ${status})`,
        httpStatus: status,
      });
    }
    await response.body?.cancel().catch(() => undefined);
    return failed({
      code: "TOKEN_REFRESH_FAILED",
      message: `token request answered with an unexpected status (HTTP ${status})`,
      httpStatus: status,
    });
  } catch (error) {
    const classified = classifyFetchError(error, timeoutMs);
    return { ok: false, failure: { ...classified, httpStatus: status } };
  }
}

/**
 * Runs a token request template: up to `maxAttempts` attempts for transient failures, with
 * jittered backoff (never sooner than Retry-After). Throws TokenEndpointError with every attempt.
 */
export async function requestTemplateToken(
  request: {
    outbound: Outbound;
    template: TokenTemplate;
    values: TemplateValues;
    timeoutMs: number;
    maxAttempts: number;
  },
  hooks: TokenClientHooks = {},
): Promise<{ token: TemplateToken; attempts: TokenAttempt[] }> {
  let rendered: RenderedRequest;
  try {
    rendered = renderTemplate(request.template, request.values);
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    throw new TokenEndpointError({
      code: "TOKEN_REFRESH_FAILED",
      message: `token request could not be built: ${error.message}`,
      oauthError: null,
      httpStatus: null,
      transient: false,
      attempts: [],
    });
  }
  return retryTokenAttempts(request, hooks, () =>
    attemptOnce(request.outbound, rendered, request.template, request.timeoutMs),
  );
}
