// The read behind acquireAuth, the hottest path keyport has: one credential with its current
// secrets, in one statement sent straight to the driver (Prisma's per-query cost was most of the
// request, and `include` made it two round trips).
import { type PrismaClient, rawQueryFor } from "../../db.js";
import { getDatamodel } from "../../generated/pothos-types.js";
import type { Credential, CredentialSecret } from "../../generated/prisma/client.js";

export type CredentialWithSecrets = Credential & { secrets: CredentialSecret[] };

/** The scope every credential read is limited to (credentialScope(caller) fits). */
export type CredentialReadScope = { workspaceId: string; environmentId?: string | null };

// Columns are listed, not `*`: a prepared statement must keep its result shape when a later
// migration adds a column, and the list is exactly the Prisma model's scalar fields (the schema
// maps no names, so columns are named like the fields), read from the generated datamodel.
const datamodel = getDatamodel().datamodel.models;

function scalarFields(model: "Credential" | "CredentialSecret") {
  const fields = datamodel[model]?.fields.filter((f) => f.kind === "scalar" || f.kind === "enum");
  if (!fields?.length) throw new Error(`${model} is missing from the generated datamodel`);
  for (const { name } of fields) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`unexpected field name ${name}`);
  }
  return fields;
}

const credentialColumns = scalarFields("Credential")
  .map((f) => `c."${f.name}"`)
  .join(", ");
const secretFields = scalarFields("CredentialSecret");
const secretObject = secretFields.map((f) => `'${f.name}', s."${f.name}"`).join(", ");

// Current secrets only (retainUntil null: not a superseded version kept after a rotation).
// $3 NULL means "any environment of the workspace".
const credentialForUseSql = `SELECT ${credentialColumns},
  COALESCE(
    (SELECT json_agg(json_build_object(${secretObject})) FROM "CredentialSecret" s
      WHERE s."credentialId" = c."id" AND s."retainUntil" IS NULL),
    '[]'::json
  ) AS "secrets"
FROM "Credential" c
WHERE c."id" = $1 AND c."workspaceId" = $2 AND ($3::text IS NULL OR c."environmentId" = $3)`;

// Top-level timestamptz columns come back as Date from both drivers; inside JSON they are ISO
// strings, so the secret rows' DateTime fields are converted back.
const secretDateFields = secretFields.filter((f) => f.type === "DateTime").map((f) => f.name);

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
