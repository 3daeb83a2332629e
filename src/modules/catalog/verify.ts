// The provider's dry call: the catalog's verify request, sent with a credential's auth material
// through the outbound path (address policy, deadline, size cap) to the entry's own URL and
// nowhere else. Outcomes are classified like token requests; no message carries a URL's path or
// query (a Telegram token travels in the path), a response body, or a header.
import type { Outbound } from "../../lib/outbound.js";
import { OutboundError, OutboundRefusedError } from "../../lib/outbound.js";

type NameValue = { name: string; value: string };
/** A credential's auth material, as its kind produces it. */
export type AuthMaterial = {
  headers: NameValue[];
  queryParameters: NameValue[];
  pathParameters: NameValue[];
};

import { fillTemplate, type ProviderEntry, type VerifyRequest } from "./catalog.js";

export type VerificationCode =
  | "INVALID_CREDENTIALS"
  | "INSUFFICIENT_SCOPES"
  | "CONNECTION_REFUSED"
  | "PROVIDER_UNAVAILABLE"
  | "RATE_LIMITED"
  | "ENDPOINT_NOT_ALLOWED";

export type VerificationOutcome =
  | { ok: true; httpStatus: number; durationMs: number }
  | {
      ok: false;
      code: VerificationCode;
      message: string;
      httpStatus: number | null;
      durationMs: number;
      /** Transient failures (unreachable, 5xx, timeout, 429) never invalidate a credential. */
      transient: boolean;
    };

const transientCodes: ReadonlySet<VerificationCode> = new Set([
  "CONNECTION_REFUSED",
  "PROVIDER_UNAVAILABLE",
  "RATE_LIMITED",
]);

/** Reads a dotted path (`team.id`) from parsed JSON. */
export function jsonPath(value: unknown, path: string): unknown {
  let current = value;
  for (const part of path.split(".")) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string, unknown>)[part];
  }
  return current;
}

/** Providers that answer 200 with an error field (Slack) name the failure there. */
function codeFromErrorField(body: unknown): VerificationCode {
  const error = jsonPath(body, "error");
  if (error === "missing_scope" || error === "not_allowed_token_type") return "INSUFFICIENT_SCOPES";
  if (error === "ratelimited" || error === "rate_limited") return "RATE_LIMITED";
  return "INVALID_CREDENTIALS";
}

function classifyStatus(status: number): VerificationCode {
  if (status === 401) return "INVALID_CREDENTIALS";
  if (status === 403) return "INSUFFICIENT_SCOPES";
  if (status === 429) return "RATE_LIMITED";
  if (status >= 500) return "PROVIDER_UNAVAILABLE";
  // 400, 404 (Telegram answers an unknown bot token with 404), and anything else unexpected.
  return "INVALID_CREDENTIALS";
}

const statusMessages: Record<VerificationCode, string> = {
  INVALID_CREDENTIALS: "The provider rejected the credential",
  INSUFFICIENT_SCOPES: "The provider accepted the credential but refused the request (forbidden)",
  CONNECTION_REFUSED: "The provider could not be reached",
  PROVIDER_UNAVAILABLE: "The provider is unavailable",
  RATE_LIMITED: "The provider is rate limiting requests",
  ENDPOINT_NOT_ALLOWED: "The verify endpoint is not allowed by the outbound policy",
};

/**
 * Sends the entry's verify request with the given auth material. `{variables}` in its URL come
 * from the connection config, and `{token}` from a PATH-placed token.
 */
export async function sendVerifyRequest(
  outbound: Outbound,
  entry: ProviderEntry,
  request: VerifyRequest,
  connectionConfig: Readonly<Record<string, string>>,
  material: AuthMaterial,
  timeoutMs: number,
): Promise<VerificationOutcome> {
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const values: Record<string, string> = { ...connectionConfig };
  for (const parameter of material.pathParameters) values[parameter.name] = parameter.value;
  const filled = fillTemplate(request.url, values);
  if (filled.missing.length > 0) {
    return {
      ok: false,
      code: "INVALID_CREDENTIALS",
      message: `The verify request of ${entry.name} needs ${filled.missing.join(", ")}, which this credential lacks.`,
      httpStatus: null,
      durationMs: elapsed(),
      transient: false,
    };
  }
  const url = new URL(filled.value);
  for (const parameter of material.queryParameters) {
    url.searchParams.set(parameter.name, parameter.value);
  }
  const headers = new Headers();
  for (const header of request.headers) headers.set(header.name, header.value);
  for (const header of material.headers) headers.set(header.name, header.value);
  if (!headers.has("accept")) headers.set("accept", "application/json");
  let response: Response;
  try {
    response = await outbound.fetch(url, {
      method: request.method,
      headers,
      body: request.body ?? null,
      timeoutMs,
    });
  } catch (error) {
    const code: VerificationCode =
      error instanceof OutboundRefusedError
        ? "ENDPOINT_NOT_ALLOWED"
        : error instanceof OutboundError && error.kind === "network"
          ? "CONNECTION_REFUSED"
          : "PROVIDER_UNAVAILABLE";
    const detail =
      error instanceof OutboundRefusedError
        ? `: ${error.message}`
        : error instanceof OutboundError && error.kind === "timeout"
          ? ` (no answer within ${timeoutMs} ms)`
          : "";
    return {
      ok: false,
      code,
      message: `${statusMessages[code]} (${url.host})${detail}.`,
      httpStatus: null,
      durationMs: elapsed(),
      transient: transientCodes.has(code),
    };
  }
  const status = response.status;
  let body: unknown = null;
  try {
    const text = await response.text();
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const failure = (code: VerificationCode, why: string): VerificationOutcome => ({
    ok: false,
    code,
    message: `${statusMessages[code]} (${url.host} answered ${why}).`,
    httpStatus: status,
    durationMs: elapsed(),
    transient: transientCodes.has(code),
  });
  if (status !== request.expectStatus) return failure(classifyStatus(status), `HTTP ${status}`);
  if (request.expectJson && jsonPath(body, request.expectJson.path) !== request.expectJson.equals) {
    return failure(
      codeFromErrorField(body),
      `without ${request.expectJson.path} = ${String(request.expectJson.equals)}`,
    );
  }
  return { ok: true, httpStatus: status, durationMs: elapsed() };
}
