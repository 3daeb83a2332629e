// Configuration is parsed once, at start. Every problem is collected so an operator sees all of
// them in one message instead of fixing them one restart at a time.
import path from "node:path";
import ipaddr from "ipaddr.js";
import { z } from "zod";
import { parseEncryptionKeys } from "./lib/crypto.js";

export type Config = {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  publicUrl: string;
  /** Raw `kid:key,...` value; undefined in embedded mode until the key file is read. */
  encryptionKeys: string | undefined;
  auth: {
    jwtSecret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
  };
  production: boolean;
  logLevel: LogLevel;
  oauth: {
    /** Per-attempt timeout of token endpoint calls; the refresh lease outlives 3 attempts. */
    tokenRequestTimeoutMs: number;
    /** How often each instance refreshes tokens that expire within 10 minutes; 0 turns it off. */
    sweepIntervalMs: number;
    /** A refresh failing this long without a success makes the credential INVALID. */
    giveUpAfterMs: number;
    /** After a failed refresh, no token call for this long: callers get the recorded failure. */
    failureBackoffMs: number;
    /** Refresh tokens unused this long are refreshed anyway (providers expire idle ones); 0 off. */
    keepAliveMs: number;
  };
  events: {
    /** Credential events older than this many days are pruned. */
    retentionDays: number;
    /** How often each instance prunes old events; 0 turns it off. */
    pruneIntervalMs: number;
  };
  rotation: {
    /** How often each instance deletes previous secrets whose overlap window closed; 0 off. */
    sweepIntervalMs: number;
  };
  outbound: {
    /** Host names and CIDRs that outbound requests may reach among non-public addresses. */
    allow: string[];
  };
  subscriptions: {
    /** How often a running subscription re-checks its caller (revoked key, expired token). */
    recheckIntervalMs: number;
    /** Events held for one subscriber that is not reading; one more closes its stream. */
    bufferSize: number;
  };
  providers: {
    /** Extra or overriding provider catalog files (YAML); null for the shipped catalog only. */
    dir: string | null;
  };
  verification: {
    /** Static credentials unused this long are checked with their provider again; 0 off. */
    idleAfterMs: number;
    /** How often each instance looks for such credentials; 0 turns it off. */
    sweepIntervalMs: number;
  };
  http: {
    /** Largest request body accepted; larger ones are refused before parsing. */
    maxRequestBytes: number;
    /** Browser origins for CORS and the OAuth popup's postMessage. */
    allowedOrigins: string[];
  };
};

export const logLevels = ["debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof logLevels)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `keyport cannot start; fix the configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
    );
    this.name = "ConfigError";
  }
}

const emptyToUndefined = (value: unknown) =>
  typeof value === "string" && value.trim() === "" ? undefined : value;

const optionalString = z.preprocess(emptyToUndefined, z.string().optional());

const postgresUrl = z.preprocess(
  emptyToUndefined,
  z
    .string()
    .refine((value) => /^postgres(ql)?:\/\/[^\s]+$/.test(value) && URL.canParse(value), {
      message: "must be a postgres:// or postgresql:// URL",
    })
    .optional(),
);

const httpUrl = z.string().refine(
  (value) => {
    if (!URL.canParse(value)) return false;
    return ["http:", "https:"].includes(new URL(value).protocol);
  },
  { message: "must be an absolute http(s) URL" },
);

/** A comma list, blanks dropped. */
const commaList = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);

const hostNamePattern =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/i;

/** An OUTBOUND_ALLOW entry: a CIDR, a single address, or a host name. */
export function outboundAllowProblem(entry: string): string | null {
  if (entry.includes("/")) {
    try {
      ipaddr.parseCIDR(entry);
      return null;
    } catch {
      return `"${entry.slice(0, 60)}" is not a valid CIDR`;
    }
  }
  if (ipaddr.isValid(entry.replace(/^\[|\]$/g, ""))) return null;
  return hostNamePattern.test(entry)
    ? null
    : `"${entry.slice(0, 60)}" is not a host name, address or CIDR`;
}

function originProblem(entry: string): string | null {
  if (!URL.canParse(entry)) return `"${entry.slice(0, 60)}" is not an origin`;
  const url = new URL(entry);
  if (!["http:", "https:"].includes(url.protocol) || url.origin !== entry.replace(/\/$/, "")) {
    return `"${entry.slice(0, 60)}" is not an origin (scheme://host[:port], no path)`;
  }
  return null;
}

const durationUnits: Record<string, number> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A duration: a number with a unit (`30s`, `15m`, `24h`, `4d`, `500ms`), or plain seconds. */
const duration = (fallback: string, min: number) =>
  z.preprocess(
    emptyToUndefined,
    z
      .string()
      .default(fallback)
      .transform((value, ctx) => {
        const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(value.trim());
        const ms = match
          ? Number(match[1]) * (durationUnits[match[2] ?? "s"] ?? 1_000)
          : Number.NaN;
        if (!Number.isFinite(ms) || (ms !== 0 && ms < min) || ms > 365 * 86_400_000) {
          ctx.addIssue({
            code: "custom",
            message: `must be a duration such as 30s, 15m, 24h or 4d (0, or between ${min} ms and 365d)`,
          });
          return z.NEVER;
        }
        return Math.round(ms);
      }),
  );

const schema = z.object({
  PORT: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(0, "must be between 0 and 65535")
      .max(65535, "must be between 0 and 65535")
      .default(4000),
  ),
  HOST: z.preprocess(emptyToUndefined, z.string().default("127.0.0.1")),
  DATA_DIR: z.preprocess(emptyToUndefined, z.string().default("./.data")),
  DATABASE_URL: postgresUrl,
  REDIS_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((value) => /^rediss?:\/\//.test(value) && URL.canParse(value), {
        message: "must be a redis:// or rediss:// URL",
      })
      .optional(),
  ),
  PUBLIC_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
  ENCRYPTION_KEYS: optionalString,
  AUTH_JWT_SECRET: z.preprocess(
    emptyToUndefined,
    z.string().min(32, "must be at least 32 characters").optional(),
  ),
  AUTH_JWKS_URL: z.preprocess(emptyToUndefined, httpUrl.optional()),
  AUTH_ISSUER: optionalString,
  AUTH_AUDIENCE: optionalString,
  NODE_ENV: optionalString,
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(logLevels).default("info")),
  TOKEN_REQUEST_TIMEOUT_MS: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(100, "must be between 100 and 120000")
      .max(120_000, "must be between 100 and 120000")
      .default(10_000),
  ),
  REFRESH_SWEEP_INTERVAL_MS: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(0, "must be 0 (off) or more")
      .default(60_000),
  ),
  REFRESH_GIVE_UP_AFTER: duration("4d", 60_000),
  REFRESH_FAILURE_BACKOFF: duration("30s", 1_000),
  REFRESH_KEEPALIVE: duration("24h", 60_000),
  EVENT_RETENTION_DAYS: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number of days")
      .min(1, "must be between 1 and 3650")
      .max(3650, "must be between 1 and 3650")
      .default(30),
  ),
  EVENT_PRUNE_INTERVAL_MS: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(0, "must be 0 (off) or more")
      .default(3_600_000),
  ),
  ROTATION_SWEEP_INTERVAL: duration("5m", 1_000),
  OUTBOUND_ALLOW: z.string().optional(),
  PROVIDERS_DIR: optionalString,
  VERIFY_IDLE_AFTER: duration("24h", 60_000),
  VERIFY_SWEEP_INTERVAL: duration("15m", 1_000),
  MAX_REQUEST_BYTES: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(1024, "must be between 1024 and 104857600")
      .max(100 * 1024 * 1024, "must be between 1024 and 104857600")
      .default(1024 * 1024),
  ),
  ALLOWED_ORIGINS: optionalString,
  SUBSCRIPTION_RECHECK_INTERVAL: duration("20s", 100),
  SUBSCRIPTION_BUFFER: z.preprocess(
    emptyToUndefined,
    z.coerce
      .number({ message: "must be a number" })
      .int("must be a whole number")
      .min(1, "must be between 1 and 100000")
      .max(100_000, "must be between 1 and 100000")
      .default(1000),
  ),
});

/**
 * DATABASE_URL alone (for `npm run db:migrate`, which needs nothing else); undefined when unset,
 * ConfigError when it is not a PostgreSQL URL.
 */
export function parseDatabaseUrl(value: string | undefined): string | undefined {
  const result = postgresUrl.safeParse(value);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => `DATABASE_URL ${issue.message}`));
  }
  return result.data;
}

const present = (value: string | undefined) => value !== undefined && value.trim() !== "";

/** Rules across variables, checked on the raw values so they run even when others are bad. */
function crossFieldProblems(env: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  if (present(env.DATABASE_URL) && !present(env.ENCRYPTION_KEYS)) {
    problems.push(
      "ENCRYPTION_KEYS is required when DATABASE_URL is set (the keys must live outside the database)",
    );
  }
  if (present(env.ENCRYPTION_KEYS)) {
    problems.push(...parseEncryptionKeys(env.ENCRYPTION_KEYS ?? "").problems);
  }
  for (const entry of commaList(env.OUTBOUND_ALLOW)) {
    const problem = outboundAllowProblem(entry);
    if (problem) problems.push(`OUTBOUND_ALLOW: ${problem}`);
  }
  for (const entry of commaList(env.ALLOWED_ORIGINS)) {
    const problem = originProblem(entry);
    if (problem) problems.push(`ALLOWED_ORIGINS: ${problem}`);
  }
  if (present(env.AUTH_JWT_SECRET) && present(env.AUTH_JWKS_URL)) {
    problems.push("AUTH_JWT_SECRET and AUTH_JWKS_URL: set one of them, not both");
  }
  return problems;
}

/** Parses the environment; throws ConfigError listing every problem. */
export function parseEnv(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  const problems = [
    ...(result.error?.issues ?? []).map((issue) => `${issue.path.join(".")} ${issue.message}`),
    ...crossFieldProblems(env),
  ];
  if (!result.success || problems.length > 0) throw new ConfigError(problems);
  const values = result.data;
  const production = values.NODE_ENV === "production";
  return {
    port: values.PORT,
    host: values.HOST,
    dataDir: path.resolve(values.DATA_DIR),
    databaseUrl: values.DATABASE_URL,
    redisUrl: values.REDIS_URL,
    publicUrl: (values.PUBLIC_URL ?? `http://localhost:${values.PORT}`).replace(/\/+$/, ""),
    encryptionKeys: values.ENCRYPTION_KEYS,
    auth: {
      jwtSecret: values.AUTH_JWT_SECRET,
      jwksUrl: values.AUTH_JWKS_URL,
      issuer: values.AUTH_ISSUER,
      audience: values.AUTH_AUDIENCE,
    },
    production,
    logLevel: values.LOG_LEVEL,
    oauth: {
      tokenRequestTimeoutMs: values.TOKEN_REQUEST_TIMEOUT_MS,
      sweepIntervalMs: values.REFRESH_SWEEP_INTERVAL_MS,
      giveUpAfterMs: values.REFRESH_GIVE_UP_AFTER,
      failureBackoffMs: values.REFRESH_FAILURE_BACKOFF,
      keepAliveMs: values.REFRESH_KEEPALIVE,
    },
    events: {
      retentionDays: values.EVENT_RETENTION_DAYS,
      pruneIntervalMs: values.EVENT_PRUNE_INTERVAL_MS,
    },
    rotation: { sweepIntervalMs: values.ROTATION_SWEEP_INTERVAL },
    outbound: {
      // Unset: loopback outside production (local development and tests), nothing in production.
      allow:
        values.OUTBOUND_ALLOW === undefined
          ? production
            ? []
            : ["127.0.0.0/8", "::1"]
          : commaList(values.OUTBOUND_ALLOW),
    },
    subscriptions: {
      recheckIntervalMs: values.SUBSCRIPTION_RECHECK_INTERVAL || 20_000,
      bufferSize: values.SUBSCRIPTION_BUFFER,
    },
    providers: {
      dir: values.PROVIDERS_DIR ? path.resolve(values.PROVIDERS_DIR) : null,
    },
    verification: {
      idleAfterMs: values.VERIFY_IDLE_AFTER,
      sweepIntervalMs: values.VERIFY_SWEEP_INTERVAL,
    },
    http: {
      maxRequestBytes: values.MAX_REQUEST_BYTES,
      allowedOrigins: commaList(values.ALLOWED_ORIGINS).map((origin) => new URL(origin).origin),
    },
  };
}
