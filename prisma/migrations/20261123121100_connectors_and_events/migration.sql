-- CreateEnum
CREATE TYPE "ConnectorStatus" AS ENUM ('ACTIVE', 'PAUSED', 'NEEDS_CREDENTIAL');

-- DropForeignKey
ALTER TABLE "CredentialEvent" DROP CONSTRAINT "CredentialEvent_credentialId_fkey";

-- AlterTable: events outlive their credential, carry their environment and the dependent
-- connectors, and take their ids from a sequence. Existing rows keep their order (their old
-- uuidv7 ids sort by time) and get their environment from their credential.
ALTER TABLE "CredentialEvent" DROP CONSTRAINT "CredentialEvent_pkey",
ADD COLUMN     "dependents" JSONB NOT NULL DEFAULT '[]',
ADD COLUMN     "environmentId" TEXT,
ADD COLUMN     "seq" BIGINT;

UPDATE "CredentialEvent" AS e SET "environmentId" = c."environmentId"
FROM "Credential" AS c WHERE c."id" = e."credentialId";

UPDATE "CredentialEvent" AS e SET "seq" = n."seq"
FROM (SELECT "id", row_number() OVER (ORDER BY "id") AS "seq" FROM "CredentialEvent") AS n
WHERE n."id" = e."id";

ALTER TABLE "CredentialEvent" DROP COLUMN "id";
ALTER TABLE "CredentialEvent" RENAME COLUMN "seq" TO "id";
CREATE SEQUENCE "CredentialEvent_id_seq" OWNED BY "CredentialEvent"."id";
SELECT setval('"CredentialEvent_id_seq"', COALESCE((SELECT max("id") FROM "CredentialEvent"), 0) + 1, false);
ALTER TABLE "CredentialEvent" ALTER COLUMN "id" SET DEFAULT nextval('"CredentialEvent_id_seq"'),
ALTER COLUMN "id" SET NOT NULL,
ALTER COLUMN "environmentId" SET NOT NULL,
ADD CONSTRAINT "CredentialEvent_pkey" PRIMARY KEY ("id");

-- CreateTable
CREATE TABLE "Connector" (
    "id" TEXT NOT NULL,
    "workspaceId" TEXT NOT NULL,
    "environmentId" TEXT NOT NULL,
    "credentialId" TEXT,
    "name" TEXT NOT NULL,
    "appKey" TEXT NOT NULL,
    "status" "ConnectorStatus" NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Connector_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Connector_workspaceId_id_idx" ON "Connector"("workspaceId", "id");

-- CreateIndex
CREATE INDEX "Connector_credentialId_id_idx" ON "Connector"("credentialId", "id");

-- CreateIndex
CREATE UNIQUE INDEX "Connector_environmentId_name_key" ON "Connector"("environmentId", "name");

-- CreateIndex
CREATE INDEX "CredentialEvent_credentialId_id_idx" ON "CredentialEvent"("credentialId", "id");

-- CreateIndex
CREATE INDEX "CredentialEvent_workspaceId_id_idx" ON "CredentialEvent"("workspaceId", "id");

-- CreateIndex
CREATE INDEX "CredentialEvent_occurredAt_idx" ON "CredentialEvent"("occurredAt");

-- AddForeignKey
ALTER TABLE "Connector" ADD CONSTRAINT "Connector_workspaceId_fkey" FOREIGN KEY ("workspaceId") REFERENCES "Workspace"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Connector" ADD CONSTRAINT "Connector_environmentId_fkey" FOREIGN KEY ("environmentId") REFERENCES "Environment"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Connector" ADD CONSTRAINT "Connector_credentialId_fkey" FOREIGN KEY ("credentialId") REFERENCES "Credential"("id") ON DELETE SET NULL ON UPDATE CASCADE;

