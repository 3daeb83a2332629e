-- AlterTable
ALTER TABLE "Credential" ADD COLUMN     "previousSecretUntil" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "CredentialSecret_retainUntil_idx" ON "CredentialSecret"("retainUntil");

