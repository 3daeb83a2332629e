// The start-up key check. Each key id gets a check value (a fixed plaintext encrypted under that
// key) the first time it is configured. At start, every configured key must decrypt its check
// value, and every key id that stored secrets use must be configured, or keyport refuses to
// start naming the key: a wrong ENCRYPTION_KEYS would otherwise serve failing reads and, worse,
// write new secrets under a key that the next start with the right ring cannot read.
import type { PrismaClient } from "../generated/prisma/client.js";
import type { KeyRing, SecretBinding } from "./crypto.js";

const checkPlaintext = "keyport encryption key check";
const checkBinding = (kid: string): SecretBinding => ({
  workspaceId: "keyport",
  credentialId: "encryption-key-check",
  field: kid,
});

type Db = Pick<PrismaClient, "encryptionKeyCheck" | "credentialSecret">;

async function decrypts(keyRing: KeyRing, ciphertext: string, binding: SecretBinding) {
  try {
    await keyRing.decrypt(ciphertext, binding);
    return true;
  } catch {
    return false;
  }
}

/** Problems with the key ring against this database; empty when it may start. Writes the check
 * values of newly configured keys only when there is no problem. */
export async function checkKeyRing(
  prisma: Db,
  keyRing: KeyRing,
  writeMissing = true,
): Promise<string[]> {
  const problems: string[] = [];
  const checks = new Map(
    (await prisma.encryptionKeyCheck.findMany()).map((row) => [row.keyId, row.ciphertext]),
  );
  for (const kid of keyRing.kids) {
    const ciphertext = checks.get(kid);
    if (ciphertext && !(await decrypts(keyRing, ciphertext, checkBinding(kid)))) {
      problems.push(
        `ENCRYPTION_KEYS: key "${kid}" is not the key this database's data was encrypted with (its check value does not decrypt)`,
      );
    }
  }
  const inUse = await prisma.credentialSecret.groupBy({ by: ["keyId"] });
  for (const { keyId } of inUse) {
    if (!keyRing.has(keyId)) {
      problems.push(
        `ENCRYPTION_KEYS lacks key "${keyId}", which stored secrets are encrypted with: add it back after the active key, or rewrap before removing it`,
      );
      continue;
    }
    if (checks.has(keyId)) continue;
    // Secrets written before check values existed: one of them vouches for the key.
    const sample = await prisma.credentialSecret.findFirst({
      where: { keyId },
      select: {
        field: true,
        ciphertext: true,
        credential: { select: { id: true, workspaceId: true } },
      },
    });
    if (
      sample &&
      !(await decrypts(keyRing, sample.ciphertext, {
        workspaceId: sample.credential.workspaceId,
        credentialId: sample.credential.id,
        field: sample.field,
      }))
    ) {
      problems.push(
        `ENCRYPTION_KEYS: key "${keyId}" does not decrypt the secrets stored under that key id`,
      );
    }
  }
  if (problems.length > 0) return problems;
  const missing = keyRing.kids.filter((kid) => !checks.has(kid));
  if (missing.length > 0 && writeMissing) {
    const data = await Promise.all(
      missing.map(async (kid) => ({
        keyId: kid,
        ciphertext: await keyRing.encryptWithKey(kid, checkPlaintext, checkBinding(kid)),
      })),
    );
    // Instances starting together may race to write the same key's check value.
    await prisma.encryptionKeyCheck.createMany({ data, skipDuplicates: true });
    // Read back: a racing instance with another key under the same id must not pass.
    return checkKeyRing(prisma, keyRing, false);
  }
  return problems;
}

/** For /readyz: the active key still decrypts its check value. */
export async function activeKeyDecrypts(prisma: Db, keyRing: KeyRing): Promise<void> {
  const row = await prisma.encryptionKeyCheck.findUnique({ where: { keyId: keyRing.activeKid } });
  if (!row || !(await decrypts(keyRing, row.ciphertext, checkBinding(keyRing.activeKid)))) {
    throw new Error("the active encryption key does not decrypt its check value");
  }
}
