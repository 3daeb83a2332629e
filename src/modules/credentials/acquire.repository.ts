// The read behind acquireAuth, the hottest path keyport has: one credential with its current
// secrets, in one statement sent straight to the driver (Prisma's per-query cost was most of the
// request, and `include` made it two round trips).
import { type PrismaClient, rawQueryFor } from "../../db.js";
import { getDatamodel } from "../../generated/pothos-types.js";
import type { Credential, CredentialSecret } from "../../generated/prisma/client.js";

export type CredentialWithSecrets = Credential & { secrets: CredentialSecret[] };

/** The scope every credential read is limited to (credentialScope(caller) fits). */
export type CredentialReadScope = { workspaceId: string; environmentId?: string | null };

// Current secrets only (retainUntil null: not a superseded version kept after a rotation).
// Column names are the Prisma field names (the schema maps none), so `c.*` and `row_to_json`
// give the same keys Prisma does. $3 NULL means "any environment of the workspace".
const credentialForUseSql = `SELECT c.*,
  COALESCE(
    (SELECT json_agg(s) FROM "CredentialSecret" s
      WHERE s."credentialId" = c."id" AND s."retainUntil" IS NULL),
    '[]'::json
  ) AS "secrets"
FROM "Credential" c
WHERE c."id" = $1 AND c."workspaceId" = $2 AND ($3::text IS NULL OR c."environmentId" = $3)`;

// Top-level timestamptz columns come back as Date from both drivers; inside JSON they are ISO
// strings, so the secret rows' DateTime fields (read from the schema) are converted back.
const secretDateFields = (() => {
  const model = getDatamodel().datamodel.models.CredentialSecret;
  if (!model) throw new Error("CredentialSecret is missing from the generated datamodel");
  return model.fields
    .filter((f) => f.kind === "scalar" && f.type === "DateTime")
    .map((f) => f.name);
})();

function reviveSecret(raw: Record<string, unknown>): CredentialSecret {
  for (const field of secretDateFields) {
    const value = raw[field];
    if (typeof value === "string") raw[field] = new Date(value);
  }
  return raw as CredentialSecret;
}

/**
 * The credential `id` inside `scope` with its current secrets (retainUntil null), shaped like
 * `prisma.credential.findFirst({ where, include: { secrets: { where: { retainUntil: null } } } })`,
 * or null when there is no such credential in that workspace (and environment).
 */
export async function findCredentialForUse(
  prisma: PrismaClient,
  scope: CredentialReadScope,
  id: string,
): Promise<CredentialWithSecrets | null> {
  const query = rawQueryFor(prisma);
  if (!query) {
    // Not the client of an open Database (e.g. a transaction client): the same read via Prisma.
    return prisma.credential.findFirst({
      where: {
        id,
        workspaceId: scope.workspaceId,
        ...(scope.environmentId ? { environmentId: scope.environmentId } : {}),
      },
      include: { secrets: { where: { retainUntil: null } } },
    });
  }
  const [row] = await query<Credential & { secrets: Record<string, unknown>[] }>(
    credentialForUseSql,
    [id, scope.workspaceId, scope.environmentId || null],
  );
  if (!row) return null;
  return { ...row, secrets: row.secrets.map(reviveSecret) };
}
