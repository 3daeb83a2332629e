// Secret values turned into CredentialSecret rows: encrypted under the active key and bound to
// their credential and field, with the preview and fingerprint computed once, at write time.
import type { Prisma } from "../../generated/prisma/client.js";
import { KeyRing } from "../../lib/crypto.js";

export type SecretRow = {
  field: string;
  ciphertext: string;
  keyId: string;
  preview: string | null;
  fingerprint: string;
};

export function encryptSecretRows(
  keyRing: KeyRing,
  binding: { workspaceId: string; credentialId: string },
  values: Record<string, string>,
): Promise<SecretRow[]> {
  return Promise.all(
    Object.entries(values).map(async ([field, value]) => ({
      field,
      ciphertext: await keyRing.encrypt(value, { ...binding, field }),
      keyId: keyRing.activeKid,
      preview: KeyRing.preview(value),
      fingerprint: keyRing.fingerprint(value),
    })),
  );
}

/** Writes encrypted rows, replacing the current value of each field. */
export async function upsertSecretRows(
  tx: Prisma.TransactionClient,
  credentialId: string,
  rows: SecretRow[],
) {
  for (const row of rows) {
    await tx.credentialSecret.upsert({
      where: { credentialId_field: { credentialId, field: row.field } },
      create: { ...row, credentialId },
      update: {
        ciphertext: row.ciphertext,
        keyId: row.keyId,
        preview: row.preview,
        fingerprint: row.fingerprint,
      },
    });
  }
}
