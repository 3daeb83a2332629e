// API keys: created with at most the creator's own scopes, stored as hashes, revoked for good.
import { z } from "zod";
import { apiKeyScope, type Caller } from "../../context.js";
import type { PrismaClient } from "../../generated/prisma/client.js";
import { generateApiKey, isScope, type Scope } from "../../lib/auth.js";
import { NotFoundError } from "../../lib/errors.js";
import { fieldError, parseInput } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import { nameSchema } from "../workspaces/workspaces.service.js";

export type ApiKeyCreator = {
  workspaceId: string;
  actor: string;
  scopes: ReadonlySet<Scope>;
  environmentId: string | null;
};

/**
 * Where clause for the API keys a caller administers: its workspace's, or, for a key limited to
 * one environment, only the keys limited to that same environment.
 */
export { apiKeyScope };

const createApiKeyInput = z.object({
  name: nameSchema,
  scopes: z
    .array(z.string())
    .min(1, "must name at least one scope")
    .max(20, "must name at most 20 scopes"),
  environmentId: z.string().nullish(),
});

export async function createApiKey(prisma: PrismaClient, creator: ApiKeyCreator, input: unknown) {
  const data = parseInput(createApiKeyInput, input);
  const requested = [...new Set(data.scopes)];
  requested.forEach((scope, index) => {
    if (!isScope(scope))
      throw fieldError(["scopes", String(index)], `unknown scope "${scope.slice(0, 50)}"`);
    // A key never grants more than its creator holds.
    if (!creator.scopes.has(scope)) {
      throw fieldError(["scopes", String(index)], `cannot grant "${scope}": you do not hold it`);
    }
  });
  const environmentId = data.environmentId ?? creator.environmentId;
  if (creator.environmentId && environmentId !== creator.environmentId) {
    throw fieldError(["environmentId"], "must be the environment your own key is limited to");
  }
  if (environmentId) {
    const environment = await prisma.environment.findFirst({
      where: { id: environmentId, workspaceId: creator.workspaceId },
      select: { id: true },
    });
    if (!environment) throw fieldError(["environmentId"], "no such environment");
  }
  const material = generateApiKey();
  return prisma.$transaction(async (tx) => {
    const apiKey = await tx.apiKey.create({
      data: {
        workspaceId: creator.workspaceId,
        environmentId: environmentId ?? null,
        name: data.name,
        prefix: material.prefix,
        hash: material.hash,
        scopes: requested,
      },
    });
    await recordAudit(tx, {
      workspaceId: creator.workspaceId,
      actor: creator.actor,
      action: "apiKey.create",
      objectType: "ApiKey",
      objectId: apiKey.id,
      metadata: { name: apiKey.name, scopes: requested },
    });
    return { apiKey, key: material.key };
  });
}

export async function revokeApiKey(
  prisma: PrismaClient,
  caller: {
    workspaceId: string;
    environmentId: string | null;
    actor: string;
    connect: Caller["connect"];
  },
  apiKeyId: string,
) {
  return prisma.$transaction(async (tx) => {
    const existing = await tx.apiKey.findFirst({
      where: { id: apiKeyId, ...apiKeyScope(caller) },
    });
    if (!existing) throw new NotFoundError("ApiKey");
    if (existing.revokedAt) return existing;
    const apiKey = await tx.apiKey.update({
      where: { id: existing.id },
      data: { revokedAt: new Date() },
    });
    await recordAudit(tx, {
      workspaceId: caller.workspaceId,
      actor: caller.actor,
      action: "apiKey.revoke",
      objectType: "ApiKey",
      objectId: apiKey.id,
    });
    return apiKey;
  });
}
