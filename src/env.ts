// Configuration is parsed once, at start. Every problem is collected so an operator sees all of
// them in one message instead of fixing them one restart at a time.
import path from "node:path";
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

const schema = z
  .object({
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
  })
  .superRefine((env, ctx) => {
    if (env.DATABASE_URL && !env.ENCRYPTION_KEYS) {
      ctx.addIssue({
        code: "custom",
        path: ["ENCRYPTION_KEYS"],
        message: "is required when DATABASE_URL is set (the keys must live outside the database)",
      });
    }
    if (env.ENCRYPTION_KEYS) {
      for (const problem of parseEncryptionKeys(env.ENCRYPTION_KEYS).problems) {
        ctx.addIssue({ code: "custom", path: ["ENCRYPTION_KEYS"], message: problem });
      }
    }
    if (env.AUTH_JWT_SECRET && env.AUTH_JWKS_URL) {
      ctx.addIssue({
        code: "custom",
        path: ["AUTH_JWKS_URL"],
        message: "set either AUTH_JWT_SECRET or AUTH_JWKS_URL, not both",
      });
    }
  });

/** Parses the environment; throws ConfigError listing every problem. */
export function parseEnv(env: Record<string, string | undefined>): Config {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const name = issue.path.join(".") || "environment";
      // Messages from parseEncryptionKeys already name the variable.
      return issue.message.startsWith(name) ? issue.message : `${name} ${issue.message}`;
    });
    throw new ConfigError(problems);
  }
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
  };
}
