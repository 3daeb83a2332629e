// Audit entries record who did what to which object. Metadata holds ids and names, never secrets.
import type { Prisma, PrismaClient } from "../../generated/prisma/client.js";

type Db = PrismaClient | Prisma.TransactionClient;

export type AuditEntry = {
  workspaceId: string;
  actor: string;
  action: string;
  objectType: string;
  objectId: string;
  metadata?: Prisma.InputJsonObject;
};

export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db.auditEvent.create({ data: entry });
}
