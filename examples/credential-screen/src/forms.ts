// What the create form asks for. A form is a list of field specs with their `path` into
// CreateCredentialInput: built from a catalog provider's `provider(key).fields` (providerForm),
// or from the credential kinds (kindForms, the screen's "Custom" choices).
import type { CreateCredentialInput, CredentialKind } from "./gql/graphql.js";

export type FieldType = "text" | "secret" | "url" | "number" | "list" | "json" | "select";

export type FieldSpec = {
  /** Where the value goes in CreateCredentialInput, e.g. ["oauth2", "clientId"]. */
  path: [string, ...string[]];
  label: string;
  type: FieldType;
  required?: boolean;
  help?: string;
  /** For `select`. */
  options?: string[];
  /** A regular expression the whole value must match. */
  pattern?: string;
  /** A placeholder. */
  example?: string;
};

export type FormSpec = {
  /** The kind the credential will have. */
  kind: CredentialKind;
  title: string;
  fields: FieldSpec[];
  /** Set on forms built from a provider: sent as createCredential's providerKey. */
  providerKey?: string;
};

// The kind's own input object in CreateCredentialInput.
const inputKey = {
  BASIC: "basic",
  BEARER: "bearer",
  CLIENT_CREDENTIALS: "clientCredentials",
  OAUTH2: "oauth2",
} as const satisfies Record<CredentialKind, keyof CreateCredentialInput>;

const field = (
  kind: CredentialKind,
  name: string,
  label: string,
  type: FieldType,
  extra: Omit<FieldSpec, "path" | "label" | "type"> = {},
): FieldSpec => ({ path: [inputKey[kind], name], label, type, ...extra });

/** Forms built from the credential kinds (what CreateCredentialInput accepts for each). */
export const kindForms: Record<CredentialKind, FormSpec> = {
  OAUTH2: {
    kind: "OAUTH2",
    title: "OAuth 2.0 (sign in with the provider)",
    fields: [
      field("OAUTH2", "issuer", "Issuer", "url", {
        help: "Enough on its own when the provider publishes its metadata.",
      }),
      field("OAUTH2", "clientId", "Client ID", "text", { required: true }),
      field("OAUTH2", "clientSecret", "Client secret", "secret"),
      field("OAUTH2", "scopes", "Scopes", "list", { help: "Separated by spaces." }),
      field("OAUTH2", "authorizationUrl", "Authorization URL", "url"),
      field("OAUTH2", "tokenUrl", "Token URL", "url"),
      field("OAUTH2", "revocationUrl", "Revocation URL", "url"),
      field("OAUTH2", "extraAuthorizationParams", "Extra authorization parameters", "json", {
        help: 'JSON, e.g. {"access_type": "offline"}',
      }),
    ],
  },
  BEARER: {
    kind: "BEARER",
    title: "API key or bearer token",
    fields: [
      field("BEARER", "token", "Token", "secret", { required: true }),
      field("BEARER", "headerName", "Header name", "text", { help: 'Default "Authorization".' }),
      field("BEARER", "scheme", "Scheme", "text", { help: 'Default "Bearer".' }),
      field("BEARER", "placement", "Placement", "select", { options: ["HEADER", "QUERY", "PATH"] }),
      field("BEARER", "queryParameter", "Query parameter", "text", {
        help: "For QUERY placement.",
      }),
    ],
  },
  BASIC: {
    kind: "BASIC",
    title: "Username and password",
    fields: [
      field("BASIC", "username", "Username", "text", { required: true }),
      field("BASIC", "password", "Password", "secret"),
      field("BASIC", "host", "Host", "text", { help: "For database and SMTP logins." }),
      field("BASIC", "port", "Port", "number"),
      field("BASIC", "database", "Database", "text"),
    ],
  },
  CLIENT_CREDENTIALS: {
    kind: "CLIENT_CREDENTIALS",
    title: "OAuth 2.0 client credentials (machine to machine)",
    fields: [
      field("CLIENT_CREDENTIALS", "tokenUrl", "Token URL", "url", { required: true }),
      field("CLIENT_CREDENTIALS", "clientId", "Client ID", "text", { required: true }),
      field("CLIENT_CREDENTIALS", "clientSecret", "Client secret", "secret", { required: true }),
      field("CLIENT_CREDENTIALS", "scopes", "Scopes", "list", { help: "Separated by spaces." }),
      field("CLIENT_CREDENTIALS", "audience", "Audience", "text"),
    ],
  },
};

/** A field of a provider catalog's form (`provider(key) { fields(authKind) { ... } }`). */
export type ProviderFieldLike = {
  name: string;
  label: string;
  /** text, password, email, url or number. */
  type: string;
  required: boolean;
  secret: boolean;
  description?: string | null;
  example?: string | null;
  pattern?: string | null;
  /** CREDENTIAL_INPUT (the kind's input block) or CONNECTION_CONFIG. */
  location: "CREDENTIAL_INPUT" | "CONNECTION_CONFIG";
};

/** A form for one provider and auth kind, from its catalog fields: replaces kindForms[kind]. */
export function providerForm(
  provider: { key: string; name: string },
  kind: CredentialKind,
  fields: ProviderFieldLike[],
): FormSpec {
  return {
    kind,
    providerKey: provider.key,
    title: `${provider.name} (${kindForms[kind].title})`,
    fields: fields.map((f) => ({
      path:
        f.location === "CONNECTION_CONFIG"
          ? ["connectionConfig", f.name]
          : [inputKey[kind], f.name],
      label: f.label,
      type: f.secret
        ? "secret"
        : f.type === "number"
          ? "number"
          : f.type === "url"
            ? "url"
            : "text",
      required: f.required,
      ...(f.description ? { help: f.description } : {}),
      ...(f.example ? { example: f.example } : {}),
      ...(f.pattern ? { pattern: f.pattern } : {}),
    })),
  };
}

export type FormValues = Record<string, string>;

/** The form's key for a field (its path, dotted). */
export const fieldKey = (spec: FieldSpec) => spec.path.join(".");

export class FormValueError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

function parseValue(spec: FieldSpec, raw: string): unknown {
  switch (spec.type) {
    case "number": {
      const value = Number(raw);
      if (!Number.isInteger(value)) throw new FormValueError(fieldKey(spec), "Enter a number.");
      return value;
    }
    case "list":
      return raw.split(/[\s,]+/).filter(Boolean);
    case "json":
      try {
        return JSON.parse(raw);
      } catch {
        throw new FormValueError(fieldKey(spec), "Enter valid JSON.");
      }
    default:
      return raw;
  }
}

/** Builds CreateCredentialInput from the form's values; empty fields are left out. */
export function buildCreateInput(
  form: FormSpec,
  name: string,
  values: FormValues,
  extra: Partial<CreateCredentialInput> = {},
): CreateCredentialInput {
  const input: Record<string, unknown> = {
    ...extra,
    name,
    ...(form.providerKey ? { providerKey: form.providerKey } : {}),
    [inputKey[form.kind]]: {},
  };
  for (const spec of form.fields) {
    const raw = values[fieldKey(spec)]?.trim() ?? "";
    if (!raw) {
      if (spec.required) throw new FormValueError(fieldKey(spec), `${spec.label} is required.`);
      continue;
    }
    if (spec.pattern && !new RegExp(`^(?:${spec.pattern})$`, "u").test(raw)) {
      throw new FormValueError(fieldKey(spec), `${spec.label} does not have the expected form.`);
    }
    let target = input;
    for (const segment of spec.path.slice(0, -1)) {
      target[segment] ??= {};
      target = target[segment] as Record<string, unknown>;
    }
    target[spec.path[spec.path.length - 1] as string] = parseValue(spec, raw);
  }
  return input as CreateCredentialInput;
}
