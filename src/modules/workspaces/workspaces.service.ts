// Workspaces and environments, and the first-start bootstrap.
import { z } from "zod";
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";
import { generateApiKey } from "../../lib/auth.js";
import { isUniqueViolation } from "../../lib/db-errors.js";
import { fieldError, parseInput } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";

export const defaultEnvironments = [
  { slug: "development", name: "Development" },
  { slug: "production", name: "Production" },
];

export const slugSchema = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/, {
  message: "must be 1-63 lowercase letters, digits or inner hyphens",
});
export const nameSchema = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(200, "must be at most 200 characters");

const createWorkspaceInput = z.object({ slug: slugSchema, name: nameSchema });
const createEnvironmentInput = z.object({ slug: slugSchema, name: nameSchema });

/** Creates a workspace with its default environments and a first admin key (returned once). */
export async function createWorkspace(
  prisma: PrismaClient,
  input: unknown,
  actor: string,
  adminScopes: string[] = ["admin"],
) {
  const { slug, name } = parseInput(createWorkspaceInput, input);
  const adminKey = generateApiKey();
  try {
    return await prisma.$transaction(async (tx) => {
      const workspace = await tx.workspace.create({
        data: { slug, name, environments: { create: defaultEnvironments } },
      });
      const apiKey = await tx.apiKey.create({
        data: {
          workspaceId: workspace.id,
          name: "Admin key",
          prefix: adminKey.prefix,
          hash: adminKey.hash,
          scopes: adminScopes,
        },
      });
      await auditCreated(tx, workspace.id, actor, "workspace.create", "Workspace", workspace.id);
      return { workspace, apiKey, key: adminKey.key };
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw fieldError(["slug"], "is already taken");
    throw error;
  }
}

export async function createEnvironment(
  prisma: PrismaClient,
  workspaceId: string,
  input: unknown,
  actor: string,
) {
  const data = parseInput(createEnvironmentInput, input);
  try {
    return await prisma.$transaction(async (tx) => {
      const environment = await tx.environment.create({ data: { ...data, workspaceId } });
      await auditCreated(
        tx,
        workspaceId,
        actor,
        "environment.create",
        "Environment",
        environment.id,
      );
      return environment;
    });
  } catch (error) {
    if (isUniqueViolation(error)) throw fieldError(["slug"], "is already taken in this workspace");
    throw error;
  }
}

function auditCreated(
  tx: Prisma.TransactionClient,
  workspaceId: string,
  actor: string,
  action: string,
  objectType: string,
  objectId: string,
) {
  return recordAudit(tx, { workspaceId, actor, action, objectType, objectId });
}

export type BootstrapResult = { created: false } | { created: true; adminApiKey: string };

/**
 * On an empty database, creates workspace `default` and a key holding `admin` and `platform`.
 * Several instances may start at once: the unique slug lets exactly one of them win.
 */
export async function bootstrap(prisma: PrismaClient): Promise<BootstrapResult> {
  if ((await prisma.workspace.count()) > 0) return { created: false };
  try {
    const result = await createWorkspace(
      prisma,
      { slug: "default", name: "Default" },
      "system:bootstrap",
      ["admin", "platform"],
    );
    return { created: true, adminApiKey: result.key };
  } catch (error) {
    if (error instanceof Error && error.name === "ValidationError") return { created: false };
    throw error;
  }
}

/**
 * The environment a caller acts in: the one it asked for, else the one its key is limited to.
 * A key limited to one environment may not name another; an id outside the workspace is
 * "no such environment", like a missing one.
 */
export async function environmentForCaller(
  prisma: Pick<PrismaClient, "environment">,
  caller: { workspaceId: string; environmentId: string | null },
  requested: string | null,
): Promise<string> {
  const environmentId = requested ?? caller.environmentId;
  if (!environmentId) throw fieldError(["environmentId"], "is required");
  if (caller.environmentId && environmentId !== caller.environmentId) {
    throw fieldError(["environmentId"], "must be the environment your key is limited to");
  }
  const environment = await prisma.environment.findFirst({
    where: { id: environmentId, workspaceId: caller.workspaceId },
    select: { id: true },
  });
  if (!environment) throw fieldError(["environmentId"], "no such environment");
  return environment.id;
}
