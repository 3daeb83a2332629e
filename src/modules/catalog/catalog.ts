// The provider catalog: one YAML file per provider, validated at start. The files shipped in
// `providers/` are read first; PROVIDERS_DIR may add entries or replace one with the same key.
// A broken file stops the start with its name and every problem in it (a ConfigError), never a
// stack trace. Loaded once; the result is immutable and handed to the services.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "../../env.js";

/**
 * Where the shipped catalog lives: the package's `providers/` folder, found from this file both
 * in the sources (src/modules/catalog) and in the build (dist/src/modules/catalog).
 */
export const builtInProvidersDir = packageProvidersDir(import.meta.dirname);

function packageProvidersDir(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return path.join(dir, "providers");
    if (path.dirname(dir) === dir) return path.resolve(from, "../../../providers");
  }
}

const authKinds = ["BASIC", "BEARER", "OAUTH2", "CLIENT_CREDENTIALS"] as const;
export type ProviderAuthKind = (typeof authKinds)[number];

/** `{name}` placeholders in URL templates and formats. */
const variablePattern = /\{([A-Za-z][A-Za-z0-9_]*)\}/g;

const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/, "must be a plain identifier (letters, digits, _)");

const patternString = z
  .string()
  .max(500)
  .refine((value) => {
    try {
      new RegExp(value, "u");
      return true;
    } catch {
      return false;
    }
  }, "must be a valid regular expression");

const fieldTypes = ["text", "password", "email", "url", "number"] as const;

const formField = z
  .object({
    name: identifier,
    label: z.string().min(1).max(200),
    type: z.enum(fieldTypes).default("text"),
    secret: z.boolean().default(false),
    pattern: patternString.nullish(),
    required: z.boolean().default(true),
    example: z.string().max(500).nullish(),
    description: z.string().max(1000).nullish(),
  })
  .strict();
export type ProviderField = z.infer<typeof formField>;

/** An absolute https URL, possibly with `{variable}` placeholders. */
const urlTemplate = z
  .string()
  .max(2048)
  .refine((value) => URL.canParse(value.replace(variablePattern, "x")), {
    message: "must be an absolute URL (placeholders such as {subdomain} allowed)",
  })
  .refine((value) => /^https?:\/\//.test(value), { message: "must be an http(s) URL" });

const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, "must be a header name");

const verifyRequest = z
  .object({
    method: z.enum(["GET", "POST"]).default("GET"),
    url: urlTemplate,
    /** Static headers only: the credential's own material is added by keyport. */
    headers: z
      .array(z.object({ name: headerName, value: z.string().max(1000) }).strict())
      .max(10)
      .default([]),
    body: z.string().max(4096).nullish(),
    expectStatus: z.number().int().min(200).max(299).default(200),
    /** Providers that answer 200 on failure (Slack: `ok: false`): a JSON field that must match. */
    expectJson: z
      .object({ path: z.string().min(1).max(200), equals: z.union([z.string(), z.boolean()]) })
      .strict()
      .nullish(),
  })
  .strict();
export type VerifyRequest = z.infer<typeof verifyRequest>;

const placement = z
  .object({
    in: z.enum(["HEADER", "QUERY", "PATH"]).default("HEADER"),
    headerName: headerName.default("Authorization"),
    /** Written before the token; "" for none (Linear API keys). */
    scheme: z.string().max(64).default("Bearer"),
    queryParameter: z.string().max(128).nullish(),
  })
  .strict();

const tokenResponse = z
  .object({
    /** Dotted paths of token-response fields kept with the credential (`instance_url`). */
    keep: z.array(z.string().min(1).max(200)).max(20).default([]),
    /** Dotted path of the account id in the token response (`team.id`). */
    accountId: z.string().min(1).max(200).nullish(),
  })
  .strict();

const authMethod = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("BASIC"),
      /** How the stored username is built from the form's `username` ("{username}/token"). */
      usernameFormat: z.string().max(200).default("{username}"),
      fields: z.array(formField).max(20).nullish(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("BEARER"),
      placement: placement.default({
        in: "HEADER",
        headerName: "Authorization",
        scheme: "Bearer",
      }),
      fields: z.array(formField).max(20).nullish(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("OAUTH2"),
      authorizationUrl: urlTemplate,
      tokenUrl: urlTemplate,
      revocationUrl: urlTemplate.nullish(),
      issuer: urlTemplate.nullish(),
      pkce: z.boolean().default(true),
      tokenEndpointAuthMethod: z
        .enum(["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"])
        .default("CLIENT_SECRET_BASIC"),
      authorizationParams: z.record(z.string(), z.string()).default({}),
      /** The provider's refresh tokens work once (amoCRM): a rotated one must never be lost. */
      singleUseRefreshTokens: z.boolean().default(false),
      /** Tokens do not expire and come without a refresh token (Notion). */
      tokensExpire: z.boolean().default(true),
      tokenResponse: tokenResponse.default({ keep: [] }),
      fields: z.array(formField).max(20).nullish(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("CLIENT_CREDENTIALS"),
      tokenUrl: urlTemplate,
      tokenEndpointAuthMethod: z
        .enum(["CLIENT_SECRET_BASIC", "CLIENT_SECRET_POST"])
        .default("CLIENT_SECRET_BASIC"),
      fields: z.array(formField).max(20).nullish(),
    })
    .strict(),
]);

export const providerEntrySchema = z
  .object({
    key: z
      .string()
      .regex(
        /^[a-z0-9][a-z0-9._-]{0,63}$/,
        "must be 1-64 lowercase letters, digits, dots, dashes or underscores",
      ),
    name: z.string().min(1).max(200),
    description: z.string().max(2000).nullish(),
    docsUrl: z.string().url().nullish(),
    categories: z.array(z.string().max(50)).max(10).default([]),
    /** Values a connection supplies (`subdomain`), substituted into URL templates. */
    connectionVariables: z.array(formField).max(10).default([]),
    auth: z.array(authMethod).min(1, "must name at least one auth kind"),
    scopes: z
      .object({
        default: z.array(z.string().min(1).max(300)).default([]),
        required: z.array(z.string().min(1).max(300)).default([]),
        separator: z.string().min(1).max(3).default(" "),
        /** How granted scopes are separated, when it differs (GitHub answers with commas). */
        responseSeparator: z.string().min(1).max(3).nullish(),
        /** Other spellings of a scope and the one the catalog uses ("email" → its full URL). */
        aliases: z.record(z.string(), z.string()).default({}),
      })
      .strict()
      .default({ default: [], required: [], separator: " ", aliases: {} }),
    verify: verifyRequest.nullish(),
  })
  .strict()
  .superRefine((entry, ctx) => {
    const kinds = entry.auth.map((method) => method.kind);
    if (new Set(kinds).size !== kinds.length) {
      ctx.addIssue({ code: "custom", path: ["auth"], message: "names an auth kind twice" });
    }
    const known = new Set(entry.connectionVariables.map((variable) => variable.name));
    const check = (value: string | null | undefined, where: (string | number)[], extra = []) => {
      for (const match of (value ?? "").matchAll(variablePattern)) {
        const name = match[1] ?? "";
        if (!known.has(name) && !(extra as string[]).includes(name)) {
          ctx.addIssue({
            code: "custom",
            path: where,
            message: `uses {${name}}, which is not a connection variable`,
          });
        }
      }
    };
    entry.auth.forEach((method, index) => {
      if (method.kind === "OAUTH2") {
        check(method.authorizationUrl, ["auth", index, "authorizationUrl"]);
        check(method.tokenUrl, ["auth", index, "tokenUrl"]);
        check(method.revocationUrl, ["auth", index, "revocationUrl"]);
        check(method.issuer, ["auth", index, "issuer"]);
      }
      if (method.kind === "CLIENT_CREDENTIALS") check(method.tokenUrl, ["auth", index, "tokenUrl"]);
      if (method.kind === "BASIC") {
        for (const match of method.usernameFormat.matchAll(variablePattern)) {
          if (match[1] !== "username" && !known.has(match[1] ?? "")) {
            ctx.addIssue({
              code: "custom",
              path: ["auth", index, "usernameFormat"],
              message: `uses {${match[1]}}, which is neither {username} nor a connection variable`,
            });
          }
        }
      }
    });
    if (entry.verify) {
      const pathToken = entry.auth.some(
        (method) => method.kind === "BEARER" && method.placement.in === "PATH",
      );
      check(entry.verify.url, ["verify", "url"], pathToken ? (["token"] as never) : []);
      if (new URL(entry.verify.url.replace(variablePattern, "x")).hostname === "x") {
        // The host comes from a variable alone: a connection could send the secret anywhere.
        ctx.addIssue({
          code: "custom",
          path: ["verify", "url"],
          message: "must fix the host name (a variable may only be part of it)",
        });
      }
    }
  });

export type ProviderEntry = z.infer<typeof providerEntrySchema>;
export type ProviderAuthMethod = ProviderEntry["auth"][number];

/** The loaded catalog: entries by key, in key order. */
export class Catalog {
  private readonly byKey: ReadonlyMap<string, ProviderEntry>;
  constructor(entries: readonly ProviderEntry[]) {
    this.byKey = new Map(
      [...entries].sort((a, b) => a.key.localeCompare(b.key)).map((e) => [e.key, e]),
    );
  }
  get(key: string | null | undefined): ProviderEntry | null {
    return (key && this.byKey.get(key)) || null;
  }
  list(): ProviderEntry[] {
    return [...this.byKey.values()];
  }
}

/** The auth method of an entry for one kind, or null when the provider does not offer it. */
export function authMethodOf<Kind extends ProviderAuthKind>(
  entry: ProviderEntry,
  kind: Kind,
): Extract<ProviderAuthMethod, { kind: Kind }> | null {
  return (entry.auth.find((method) => method.kind === kind) ?? null) as Extract<
    ProviderAuthMethod,
    { kind: Kind }
  > | null;
}

/** The fields a form needs for one auth kind of an entry (defaults when the entry names none). */
export function formFieldsOf(method: ProviderAuthMethod): ProviderField[] {
  if (method.fields) return method.fields;
  const field = (
    name: string,
    label: string,
    secret: boolean,
    type: ProviderField["type"] = secret ? "password" : "text",
  ): ProviderField => ({
    name,
    label,
    type,
    secret,
    required: true,
    pattern: null,
    example: null,
    description: null,
  });
  switch (method.kind) {
    case "BASIC":
      return [field("username", "Username", false), field("password", "Password", true)];
    case "BEARER":
      return [field("token", "Token", true)];
    case "OAUTH2":
    case "CLIENT_CREDENTIALS":
      return [field("clientId", "Client ID", false), field("clientSecret", "Client secret", true)];
  }
}

const yamlFile = /\.ya?ml$/i;

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
  return `${where}${issue.message}`;
}

/** Reads and validates one directory's files; problems are collected, not thrown. */
function readDirectory(
  directory: string,
  label: string,
  problems: string[],
): { entry: ProviderEntry; file: string }[] {
  let names: string[];
  try {
    if (!statSync(directory).isDirectory()) {
      problems.push(`${label}: ${directory} is not a directory`);
      return [];
    }
    names = readdirSync(directory)
      .filter((name) => yamlFile.test(name))
      .sort();
  } catch {
    problems.push(`${label}: ${directory} cannot be read`);
    return [];
  }
  const loaded: { entry: ProviderEntry; file: string }[] = [];
  for (const name of names) {
    const file = path.join(directory, name);
    const shown = `${label === "PROVIDERS_DIR" ? "PROVIDERS_DIR " : ""}provider file ${file}`;
    let raw: unknown;
    try {
      raw = parseYaml(readFileSync(file, "utf8"), { maxAliasCount: 50 });
    } catch (error) {
      // YAML parse errors quote the position, not the whole file.
      const reason = error instanceof Error ? error.message.split("\n")[0] : "unreadable";
      problems.push(`${shown}: not valid YAML (${reason})`);
      continue;
    }
    const parsed = providerEntrySchema.safeParse(raw);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) problems.push(`${shown}: ${describeIssue(issue)}`);
      continue;
    }
    const expected = name.replace(yamlFile, "");
    if (parsed.data.key !== expected) {
      problems.push(`${shown}: key "${parsed.data.key}" must match the file name (${expected})`);
      continue;
    }
    loaded.push({ entry: parsed.data, file });
  }
  return loaded;
}

/**
 * Loads the shipped catalog and then PROVIDERS_DIR (whose entries replace shipped ones with the
 * same key). Throws ConfigError naming each broken file and its problems.
 */
export function loadCatalog(options: {
  providersDir?: string | null;
  builtInDir?: string;
}): Catalog {
  const problems: string[] = [];
  const entries = new Map<string, ProviderEntry>();
  for (const { entry } of readDirectory(
    options.builtInDir ?? builtInProvidersDir,
    "catalog",
    problems,
  )) {
    entries.set(entry.key, entry);
  }
  if (options.providersDir) {
    for (const { entry } of readDirectory(options.providersDir, "PROVIDERS_DIR", problems)) {
      entries.set(entry.key, entry);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return new Catalog([...entries.values()]);
}

/** Names of the `{variables}` a template uses. */
export function templateVariables(template: string): string[] {
  return [...template.matchAll(variablePattern)].map((match) => match[1] ?? "");
}

/**
 * Substitutes `{variables}` into a template. Each value is URL-encoded for its place (a path
 * segment or host label); a missing one is returned as `missing`.
 */
export function fillTemplate(
  template: string,
  values: Readonly<Record<string, string>>,
): { value: string; missing: string[] } {
  const missing: string[] = [];
  const value = template.replace(variablePattern, (_whole, name: string) => {
    const given = values[name];
    if (given === undefined || given === "") {
      missing.push(name);
      return "";
    }
    // ":" stays as it is: Telegram tokens ("123:abc") travel in a path segment.
    return encodeURIComponent(given).replace(/%3A/gi, ":");
  });
  return { value, missing };
}
