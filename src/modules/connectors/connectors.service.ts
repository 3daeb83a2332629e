// Connectors: validation, tenancy and status rules. No GraphQL here; resolvers translate inputs
// and results.
import { z } from "zod";
import { type Caller, connectorScope, type ServiceDeps } from "../../context.js";
import type { Prisma } from "../../generated/prisma/client.js";
import { isUniqueViolation } from "../../lib/db-errors.js";
import { type FieldError, NotFoundError, ValidationError } from "../../lib/errors.js";
import { fieldError } from "../../lib/validation.js";
import { recordAudit } from "../audit/audit.service.js";
import { credentialScope } from "../credentials/credentials.service.js";
import { shortText } from "../credentials/kinds/common.js";
import { environmentForCaller } from "../workspaces/workspaces.service.js";

type Deps = Pick<ServiceDeps, "prisma">;
export type ConnectorActor = Pick<Caller, "workspaceId" | "environmentId" | "actor" | "connect">;
export type ConnectorStatus = "ACTIVE" | "PAUSED" | "NEEDS_CREDENTIAL";

/** Where clause that limits every connector query to the caller's workspace (and environment). */
export { connectorScope };

const appKey = z
  .string()
  .regex(
    /^[a-z0-9][a-z0-9._-]{0,63}$/,
    "must be 1-64 lowercase letters, digits, dots, dashes or underscores",
  );

const createInput = z.object({ name: shortText(200), appKey });
const updateInput = z.object({
  name: shortText(200).optional(),
  status: z.enum(["ACTIVE", "PAUSED", "NEEDS_CREDENTIAL"]).nullish(),
});

function issuesOf(error: z.ZodError | undefined): FieldError[] {
  return (error?.issues ?? []).map((issue) => ({
    path: ["input", ...issue.path.map(String)],
    message: issue.message,
  }));
}

/** A credential the caller may attach, in `environmentId`; otherwise a field error. */
async function attachableCredential(
  deps: Deps,
  caller: ConnectorActor,
  credentialId: string,
  environmentId: string,
) {
  const credential = await deps.prisma.credential.findFirst({
    where: { id: credentialId, ...credentialScope(caller) },
    select: { id: true, environmentId: true },
  });
  // Another workspace's credential answers exactly like one that does not exist.
  if (!credential) throw fieldError(["credentialId"], "no such credential");
  if (credential.environmentId !== environmentId) {
    throw fieldError(["credentialId"], "must be a credential of the connector's environment");
  }
  return credential;
}

function isForeignKeyViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { code, cause } = error as { code?: unknown; cause?: { code?: unknown; kind?: unknown } };
  return (
    code === "P2003" || cause?.code === "23503" || cause?.kind === "ForeignKeyConstraintViolation"
  );
}

function translateWriteError(error: unknown): never {
  if (isUniqueViolation(error)) throw fieldError(["name"], "is already used in this environment");
  // The credential was deleted between the check and the write.
  if (isForeignKeyViolation(error)) throw fieldError(["credentialId"], "no such credential");
  throw error;
}

export async function createConnector(
  deps: Deps,
  caller: ConnectorActor,
  input: { name: string; appKey: string; environmentId: string | null; credentialId: string },
) {
  const parsed = createInput.safeParse(input);
  if (!parsed.success) throw new ValidationError(issuesOf(parsed.error));
  const environmentId = await environmentForCaller(deps.prisma, caller, input.environmentId);
  const credential = await attachableCredential(deps, caller, input.credentialId, environmentId);
  try {
    return await deps.prisma.$transaction(async (tx) => {
      const connector = await tx.connector.create({
        data: {
          workspaceId: caller.workspaceId,
          environmentId,
          credentialId: credential.id,
          name: parsed.data.name,
          appKey: parsed.data.appKey,
          status: "ACTIVE",
        },
      });
      await recordAudit(tx, {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        action: "connector.create",
        objectType: "Connector",
        objectId: connector.id,
        metadata: { name: connector.name, appKey: connector.appKey, credentialId: credential.id },
      });
      return connector;
    });
  } catch (error) {
    translateWriteError(error);
  }
}

async function findScoped(deps: Deps, caller: ConnectorActor, id: string) {
  const connector = await deps.prisma.connector.findFirst({
    where: { id, ...connectorScope(caller) },
  });
  if (!connector) throw new NotFoundError("Connector");
  return connector;
}

/**
 * Renames, pauses or resumes a connector, or switches it to another credential of its
 * environment. Giving a credential to a NEEDS_CREDENTIAL connector makes it ACTIVE (or PAUSED
 * when asked).
 */
export async function updateConnector(
  deps: Deps,
  caller: ConnectorActor,
  id: string,
  input: { name?: string | null; status?: ConnectorStatus | null; credentialId?: string | null },
) {
  const errors: FieldError[] = [];
  const parsed = updateInput.safeParse({
    ...(input.name != null ? { name: input.name } : {}),
    status: input.status,
  });
  if (!parsed.success) errors.push(...issuesOf(parsed.error));
  if (input.name === null) errors.push({ path: ["input", "name"], message: "must not be null" });
  if (input.credentialId === null) {
    errors.push({
      path: ["input", "credentialId"],
      message: "cannot be removed; switch to another credential or delete the connector",
    });
  }
  if (input.status === "NEEDS_CREDENTIAL") {
    errors.push({
      path: ["input", "status"],
      message: "is set by keyport when the credential is deleted; use ACTIVE or PAUSED",
    });
  }
  if (errors.length > 0 || !parsed.success) throw new ValidationError(errors);
  const existing = await findScoped(deps, caller, id);
  let credentialId = existing.credentialId;
  if (input.credentialId != null) {
    credentialId = (
      await attachableCredential(deps, caller, input.credentialId, existing.environmentId)
    ).id;
  }
  let status: ConnectorStatus = existing.status;
  if (input.status) status = input.status;
  else if (existing.status === "NEEDS_CREDENTIAL" && credentialId) status = "ACTIVE";
  if (!credentialId && status !== "NEEDS_CREDENTIAL") {
    throw fieldError(["credentialId"], `is required to make the connector ${status}`);
  }
  const data: Prisma.ConnectorUncheckedUpdateManyInput = {
    ...(parsed.data.name !== undefined ? { name: parsed.data.name } : {}),
    ...(credentialId !== existing.credentialId ? { credentialId } : {}),
    ...(status !== existing.status ? { status } : {}),
  };
  try {
    return await deps.prisma.$transaction(async (tx) => {
      // Unless the connector lost its credential meanwhile (a forced delete), the write holds.
      const { count } = await tx.connector.updateMany({
        where: { id: existing.id, credentialId: existing.credentialId },
        data,
      });
      if (count !== 1) {
        throw new ValidationError([], "The connector changed while it was being updated; retry.");
      }
      await recordAudit(tx, {
        workspaceId: caller.workspaceId,
        actor: caller.actor,
        action: "connector.update",
        objectType: "Connector",
        objectId: existing.id,
        metadata: { changed: Object.keys(data), status, credentialId },
      });
      return tx.connector.findUniqueOrThrow({ where: { id: existing.id } });
    });
  } catch (error) {
    translateWriteError(error);
  }
}

export async function deleteConnector(deps: Deps, caller: ConnectorActor, id: string) {
  const existing = await findScoped(deps, caller, id);
  await deps.prisma.$transaction(async (tx) => {
    const { count } = await tx.connector.deleteMany({ where: { id: existing.id } });
    if (count !== 1) throw new NotFoundError("Connector");
    await recordAudit(tx, {
      workspaceId: caller.workspaceId,
      actor: caller.actor,
      action: "connector.delete",
      objectType: "Connector",
      objectId: existing.id,
      metadata: { name: existing.name, appKey: existing.appKey },
    });
  });
  return existing;
}
