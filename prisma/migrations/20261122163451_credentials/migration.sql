-- CreateEnum
CREATE TYPE "CredentialKind" AS ENUM ('BASIC', 'BEARER', 'OAUTH2', 'CLIENT_CREDENTIALS');

-- CreateEnum
CREATE TYPE "CredentialStatus" AS ENUM ('PENDING_AUTHORIZATION', 'ACTIVE', 'DEGRADED', 'INVALID');

-- CreateTable
CREATE TABLE "Credential" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "kind" "CredentialKind" NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT,
    "providerKey" TEXT,
    "externalUserId" TEXT,
    "status" "CredentialStatus" NOT NULL,
    "statusReasonCode" TEXT,
    "statusReasonMessage" TEXT,
    "settings" JSONB NOT NULL,
    "expiresAt" TIMESTAMPTZ(3),
    "version" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "lastUsedAt" TIMESTAMPTZ(3),
    "lastVerifiedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Credential_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "CredentialSecret" (
    "id" TEXT NOT NULL,
    "credentialId" TEXT NOT NULL,
    "field" TEXT NOT NULL,
    "ciphertext" TEXT NOT NULL,
    "keyId" TEXT NOT NULL,
    "preview" TEXT,
    "fingerprint" TEXT NOT NULL,
    "retainUntil" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "CredentialSecret_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Credential_workspaceId_id_idx" ON "Credential"("workspaceId", "id");

-- CreateIndex
CREATE INDEX "Credential_workspaceId_externalUserId_idx" ON "Credential"("workspaceId", "externalUserId");

-- CreateIndex
CREATE INDEX "Credential_workspaceId_providerKey_idx" ON "Credential"("workspaceId", "providerKey");

-- CreateIndex
CREATE INDEX "Credential_kind_status_expiresAt_idx" ON "Credential"("kind", "status", "expiresAt");

-- CreateIndex
CREATE UNIQUE INDEX "Credential_environmentId_name_key" ON "Credential"("environmentId", "name");

-- CreateIndex
CREATE INDEX "CredentialSecret_keyId_idx" ON "CredentialSecret"("keyId");

-- CreateIndex
CREATE UNIQUE INDEX "CredentialSecret_credentialId_field_key" ON "CredentialSecret"("credentialId", "field");

-- AddForeignKey
ALTER TABLE "Credential" ADD CONSTRAINT "Credential_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Credential" ADD CONSTRAINT "Credential_environmentId_fkey" FOREIGN KEY ("environmentId") REFERENCES "Environment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "CredentialSecret" ADD CONSTRAINT "CredentialSecret_credentialId_fkey" FOREIGN KEY ("credentialId") REFERENCES "Credential"("id") ON DELETE CASCADE ON UPDATE CASCADE;

