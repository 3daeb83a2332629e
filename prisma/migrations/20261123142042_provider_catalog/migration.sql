-- AlterEnum
ALTER TYPE "CredentialEventType" ADD VALUE 'VERIFICATION_FAILED';

-- AlterTable
ALTER TABLE "Credential" ADD COLUMN     "connectionConfig" JSONB NOT NULL DEFAULT '{}';

