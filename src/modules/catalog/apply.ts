// Filling in a new credential from its provider's catalog entry: what the caller did not give
// (URLs with the connection's variables substituted, scopes, PKCE, extra authorization
// parameters, how the credential is placed on requests) comes from the entry, and what the
// caller gave is checked against the entry's form (required fields, patterns). The kind's own
// input rules run afterwards on the result, so substituted URLs meet the outbound policy too.
import type { FieldError } from "../../lib/errors.js";
import {
  authMethodOf,
  fillTemplate,
  formFieldsOf,
  type ProviderAuthKind,
  type ProviderEntry,
  type ProviderField,
} from "./catalog.js";

export type KindInputKey = "basic" | "bearer" | "oauth2" | "clientCredentials";

const kindOfInputKey: Record<KindInputKey, ProviderAuthKind> = {
  basic: "BASIC",
  bearer: "BEARER",
  oauth2: "OAUTH2",
  clientCredentials: "CLIENT_CREDENTIALS",
};

/**
 * Every connection variable is one DNS label or path segment: it is substituted into URLs that
 * receive secrets, so it can never add a dot, slash, "@", "?" or "#" that moves the host.
 */
const variableValuePattern = /^[A-Za-z0-9_-]{1,63}$/;

export type ConnectionConfig = Record<string, string>;

/** Connection variables as given: a JSON object of strings, or a list of { name value }. */
export function parseConnectionConfig(
  raw: unknown,
  entry: ProviderEntry | null,
): { config: ConnectionConfig; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const config: ConnectionConfig = {};
  const path = ["input", "connectionConfig"];
  if (raw == null) {
    // Nothing given: required variables are reported below.
  } else if (Array.isArray(raw)) {
    for (const item of raw) {
      const pair = item as { name?: unknown; value?: unknown } | null;
      if (typeof pair?.name !== "string" || typeof pair.value !== "string") {
        errors.push({ path, message: "must be a list of { name, value } strings" });
        break;
      }
      config[pair.name] = pair.value;
    }
  } else if (typeof raw === "object") {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof value !== "string") {
        errors.push({ path: [...path, name], message: "must be a string" });
        continue;
      }
      config[name] = value;
    }
  } else {
    errors.push({ path, message: "must be an object of connection variables" });
  }
  const variables = entry?.connectionVariables ?? [];
  const known = new Set(variables.map((variable) => variable.name));
  for (const name of Object.keys(config)) {
    if (!known.has(name)) {
      errors.push({
        path: [...path, name.slice(0, 64)],
        message: entry
          ? `is not a connection variable of ${entry.name}${known.size ? ` (it has ${[...known].join(", ")})` : ""}`
          : "connection variables need a providerKey from the catalog",
      });
      delete config[name];
    }
  }
  for (const variable of variables) {
    const value = config[variable.name];
    if (value === undefined || value === "") {
      delete config[variable.name];
      if (variable.required) {
        errors.push({ path: [...path, variable.name], message: `is required (${variable.label})` });
      }
      continue;
    }
    const problem = fieldProblem(variable, value) ?? variableValueProblem(value);
    if (problem) errors.push({ path: [...path, variable.name], message: problem });
  }
  return { config, errors };
}

function variableValueProblem(value: string): string | null {
  return variableValuePattern.test(value)
    ? null
    : "must be 1-63 letters, digits, dashes or underscores";
}

/** A problem with a form value; never quotes the value (it may be a secret). */
function fieldProblem(field: ProviderField, value: string): string | null {
  if (!field.pattern) return null;
  if (new RegExp(field.pattern, "u").test(value)) return null;
  return `does not look like a ${field.label}${field.example && !field.secret ? ` (for example ${field.example})` : ""}`;
}

/**
 * The kind input block with the entry's settings filled in, or the field errors. Values the
 * caller gave win over the entry's defaults; required scopes are always requested.
 */
export function applyProvider(
  entry: ProviderEntry,
  inputKey: KindInputKey,
  block: Record<string, unknown>,
  config: ConnectionConfig,
): { block: Record<string, unknown>; errors: FieldError[] } {
  const kind = kindOfInputKey[inputKey];
  const method = authMethodOf(entry, kind);
  if (!method) {
    return {
      block,
      errors: [
        {
          path: ["input", inputKey],
          message: `${entry.name} does not take ${kind} credentials; it takes ${entry.auth.map((m) => m.kind).join(", ")}`,
        },
      ],
    };
  }
  const errors: FieldError[] = [];
  for (const field of formFieldsOf(method)) {
    const value = block[field.name];
    if (value == null || value === "") {
      if (field.required) {
        errors.push({
          path: ["input", inputKey, field.name],
          message: `is required (${field.label})`,
        });
      }
      continue;
    }
    if (typeof value !== "string") continue;
    const problem = fieldProblem(field, value);
    if (problem) errors.push({ path: ["input", inputKey, field.name], message: problem });
  }
  const url = (template: string | null | undefined, name: string) => {
    if (!template) return undefined;
    const filled = fillTemplate(template, config);
    if (filled.missing.length > 0) {
      errors.push({
        path: ["input", "connectionConfig", filled.missing[0] ?? name],
        message: `is required to build the ${name}`,
      });
      return undefined;
    }
    return filled.value;
  };
  const given = (name: string) => block[name] != null;
  const next: Record<string, unknown> = { ...block };
  switch (method.kind) {
    case "BASIC": {
      if (typeof block.username === "string") {
        const values: Record<string, string> = { ...config, username: block.username };
        next.username = method.usernameFormat.replace(
          /\{([A-Za-z][A-Za-z0-9_]*)\}/g,
          (_whole, name: string) => values[name] ?? "",
        );
      }
      break;
    }
    case "BEARER": {
      if (!given("placement")) next.placement = method.placement.in;
      if (!given("headerName")) next.headerName = method.placement.headerName;
      if (!given("scheme")) next.scheme = method.placement.scheme;
      if (!given("queryParameter") && method.placement.queryParameter) {
        next.queryParameter = method.placement.queryParameter;
      }
      break;
    }
    case "OAUTH2": {
      if (!given("authorizationUrl") && !given("issuer")) {
        next.authorizationUrl = url(method.authorizationUrl, "authorization URL");
      }
      if (!given("tokenUrl") && !given("issuer")) next.tokenUrl = url(method.tokenUrl, "token URL");
      if (!given("revocationUrl") && method.revocationUrl) {
        next.revocationUrl = url(method.revocationUrl, "revocation URL");
      }
      if (!given("issuer") && method.issuer) next.issuer = url(method.issuer, "issuer");
      if (!given("usePkce")) next.usePkce = method.pkce;
      if (!given("tokenEndpointAuthMethod")) {
        next.tokenEndpointAuthMethod = method.tokenEndpointAuthMethod;
      }
      next.extraAuthorizationParams = {
        ...method.authorizationParams,
        ...((block.extraAuthorizationParams as Record<string, unknown> | null) ?? {}),
      };
      const scopes = given("scopes") ? (block.scopes as string[]) : entry.scopes.default;
      next.scopes = [...new Set([...scopes, ...entry.scopes.required])];
      break;
    }
    case "CLIENT_CREDENTIALS": {
      if (!given("tokenUrl")) next.tokenUrl = url(method.tokenUrl, "token URL");
      if (!given("tokenEndpointAuthMethod")) {
        next.tokenEndpointAuthMethod = method.tokenEndpointAuthMethod;
      }
      if (!given("scopes") && entry.scopes.default.length > 0) next.scopes = entry.scopes.default;
      break;
    }
  }
  return { block: next, errors };
}
