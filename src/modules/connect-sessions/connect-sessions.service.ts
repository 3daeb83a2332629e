// Connect sessions: short-lived, browser-safe tokens limited to one end user in one environment
// (and optionally to some providers). Stored only as hashes, like API keys.
import { z } from "zod";
import type { Caller } from "../../context.js";
import type { PrismaClient } from "../../generated/prisma/client.js";
import { generateConnectToken } from "../../lib/auth.js";
import { parseInput } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import { singleLine } from "../credentials/kinds/common.js";
import { environmentForCaller } from "../workspaces/workspaces.service.js";

/** Default lifetime of a connect session: 30 minutes. */
export const defaultConnectSessionTtlSeconds = 30 * 60;
/** Longest lifetime of a connect session: 24 hours. */
export const maxConnectSessionTtlSeconds = 24 * 60 * 60;
/** Shortest lifetime of a connect session: 1 minute. */
export const minConnectSessionTtlSeconds = 60;

const createConnectSessionInput = z.object({
  environmentId: z.string().nullish(),
  externalUserId: z
    .string()
    .min(1, "must not be empty")
    .max(200, "must be at most 200 characters")
    .superRefine(singleLine),
  providerKeys: z
    .array(
      z
        .string()
        .regex(
          /^[a-z0-9][a-z0-9._-]{0,63}$/,
          "must be 1-64 lowercase letters, digits, dots, dashes or underscores",
        ),
    )
    .max(50, "must list at most 50 providers")
    .nullish(),
  ttlSeconds: z
    .number()
    .int("must be a whole number of seconds")
    .min(minConnectSessionTtlSeconds, `must be at least ${minConnectSessionTtlSeconds} seconds`)
    .max(
      maxConnectSessionTtlSeconds,
      `must be at most ${maxConnectSessionTtlSeconds} seconds (24 hours)`,
    )
    .nullish(),
});

export type ConnectSessionView = {
  environmentId: string;
  externalUserId: string;
  providerKeys: string[];
  expiresAt: Date;
};

export async function createConnectSession(
  prisma: PrismaClient,
  caller: Pick<Caller, "workspaceId" | "environmentId" | "actor">,
  input: unknown,
): Promise<{ token: string; session: ConnectSessionView }> {
  const data = parseInput(createConnectSessionInput, input);
  // An environment-limited key creates sessions for its own environment only.
  const environmentId = await environmentForCaller(prisma, caller, data.environmentId ?? null);
  const ttlSeconds = data.ttlSeconds ?? defaultConnectSessionTtlSeconds;
  const providerKeys = [...new Set(data.providerKeys ?? [])];
  const material = generateConnectToken();
  const expiresAt = new Date(Date.now() + ttlSeconds * 1000);
  return prisma.$transaction(async (tx) => {
    const session = await tx.connectSession.create({
      data: {
        workspaceId: caller.workspaceId,
        environmentId,
        externalUserId: data.externalUserId,
        providerKeys,
        hash: material.hash,
        expiresAt,
        createdBy: caller.actor,
      },
    });
    await recordAudit(tx, {
      workspaceId: caller.workspaceId,
      actor: caller.actor,
      action: "connectSession.create",
      objectType: "ConnectSession",
      objectId: session.id,
      metadata: { environmentId, externalUserId: data.externalUserId, providerKeys, ttlSeconds },
    });
    return {
      token: material.token,
      session: { environmentId, externalUserId: data.externalUserId, providerKeys, expiresAt },
    };
  });
}
