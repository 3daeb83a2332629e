-- AlterTable
ALTER TABLE "Credential" ADD COLUMN     "lastRefreshedAt" TIMESTAMPTZ(3),
ADD COLUMN     "nextRefreshAt" TIMESTAMPTZ(3),
ADD COLUMN     "refreshFailingSince" TIMESTAMPTZ(3);

-- CreateIndex
CREATE INDEX "Credential_kind_status_nextRefreshAt_idx" ON "Credential"("kind", "status", "nextRefreshAt");

