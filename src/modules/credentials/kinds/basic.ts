// Username and password: HTTP Basic auth, or a login for a database or SMTP server.
import { z } from "zod";
import { basicUserIdProblem, textProblem } from "../../../lib/text.js";
import { sendVerifyRequest } from "../../catalog/verify.js";
import type { AuthMaterial, KindCheck, KindCreation, SecretEndpoints } from "./common.js";
import { basicUsername, secretValue, shortText } from "./common.js";

export const basicSettings = z.object({
  username: z.string(),
  host: z.string().nullable().default(null),
  port: z.number().int().nullable().default(null),
  database: z.string().nullable().default(null),
});
export type BasicSettings = z.infer<typeof basicSettings>;

const host = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(255, "must be at most 255 characters")
  .regex(/^[A-Za-z0-9.:[\]_-]+$/, "must be a host name or IP address");
const port = z.number().int("must be a whole number").min(1).max(65_535, "must be 1-65535");

const settingsFields = {
  username: basicUsername,
  host: host.nullish(),
  port: port.nullish(),
  database: shortText(255).nullish(),
};

export const basicCreateInput = z.object({ ...settingsFields, password: secretValue.nullish() });
export const basicUpdateInput = z
  .object({ ...settingsFields, password: secretValue.nullish() })
  .partial();

// Connectors send the password to `host`: pointing it elsewhere needs the password again.
export const basicSecretEndpoints: SecretEndpoints<BasicSettings> = {
  endpoints: (settings) => ({ host: settings.host }),
  secrets: ["password"],
  discard: [],
  afterChange: (settings) => ({ settings, status: null }),
};

export const basicSecretFields = ["password"] as const;

export function createBasic(input: z.infer<typeof basicCreateInput>): KindCreation<BasicSettings> {
  return {
    settings: {
      username: input.username,
      host: input.host ?? null,
      port: input.port ?? null,
      database: input.database ?? null,
    },
    secrets: input.password ? { password: input.password } : {},
    status: "ACTIVE",
    expiresAt: null,
  };
}

export function basicAuthMaterial(
  settings: BasicSettings,
  secrets: Record<string, string>,
): AuthMaterial {
  // RFC 7617: base64 of "user:password" in UTF-8.
  const encoded = Buffer.from(`${settings.username}:${secrets.password ?? ""}`, "utf8").toString(
    "base64",
  );
  return {
    headers: [{ name: "Authorization", value: `Basic ${encoded}` }],
    queryParameters: [],
    pathParameters: [],
  };
}

export const basicAuditableSettings = ["username", "host", "port", "database"] as const;

/** The header itself is base64; RFC 7617 rules apply to what it encodes. */
export function basicSendProblems(
  settings: BasicSettings,
  secrets: Record<string, string>,
): string[] {
  const problems: string[] = [];
  const userProblem = basicUserIdProblem(settings.username);
  if (userProblem) problems.push(`username ${userProblem}`);
  const passwordProblem = textProblem(secrets.password ?? "");
  if (passwordProblem) problems.push(`password ${passwordProblem}`);
  return problems;
}

/** The catalog's verify request, with the login as Basic auth (Zendesk: `email/token`). */
export const checkBasic: KindCheck<BasicSettings> = (settings, secrets, context) => {
  const request = context.provider?.entry.verify;
  if (!context.provider || !request) return null;
  return sendVerifyRequest(
    context.outbound,
    context.provider.entry,
    request,
    context.provider.connectionConfig,
    basicAuthMaterial(settings, secrets),
    context.timeoutMs,
  );
};
