-- CreateEnum
CREATE TYPE "CredentialEventType" AS ENUM ('AUTHORIZATION_STARTED', 'AUTHORIZED', 'AUTHORIZATION_FAILED', 'REFRESHED', 'REFRESH_FAILED', 'INVALIDATED', 'RESTORED', 'ROTATED', 'VERIFIED', 'DELETED');

-- AlterTable
ALTER TABLE "Credential" ADD COLUMN     "leaseExpiresAt" TIMESTAMPTZ(3),
ADD COLUMN     "leaseOwner" TEXT;

-- CreateTable
CREATE TABLE "CredentialEvent" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "credentialId" TEXT NOT NULL,
    "type" "CredentialEventType" NOT NULL,
    "status" "CredentialStatus" NOT NULL,
    "reasonCode" TEXT,
    "reasonMessage" TEXT,
    "action" TEXT,
    "outcome" TEXT,
    "durationMs" INTEGER,
    "httpStatus" INTEGER,
    "errorCode" TEXT,
    "occurredAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "CredentialEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "OAuthAuthorization" (
    "id" TEXT NOT NULL,
    "stateHash" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "credentialId" TEXT NOT NULL,
    "redirectUri" TEXT NOT NULL,
    "scopes" TEXT[],
    "codeVerifier" TEXT,
    "nonce" TEXT,
    "expectedIssuer" TEXT,
    "reauthorize" BOOLEAN NOT NULL DEFAULT false,
    "expiresAt" TIMESTAMPTZ(3) NOT NULL,
    "usedAt" TIMESTAMPTZ(3),
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "OAuthAuthorization_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "CredentialEvent_credentialId_id_idx" ON "CredentialEvent"("credentialId", "id");

-- CreateIndex
CREATE INDEX "CredentialEvent_workspaceId_id_idx" ON "CredentialEvent"("workspaceId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "OAuthAuthorization_stateHash_key" ON "OAuthAuthorization"("stateHash");

-- CreateIndex
CREATE INDEX "OAuthAuthorization_credentialId_idx" ON "OAuthAuthorization"("credentialId");

-- AddForeignKey
ALTER TABLE "CredentialEvent" ADD CONSTRAINT "CredentialEvent_credentialId_fkey" FOREIGN KEY ("credentialId") REFERENCES "Credential"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "OAuthAuthorization" ADD CONSTRAINT "OAuthAuthorization_credentialId_fkey" FOREIGN KEY ("credentialId") REFERENCES "Credential"("id") ON DELETE CASCADE ON UPDATE CASCADE;

