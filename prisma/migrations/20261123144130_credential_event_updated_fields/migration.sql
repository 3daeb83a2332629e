-- AlterTable
ALTER TABLE "CredentialEvent" ADD COLUMN     "updatedFields" TEXT[] DEFAULT ARRAY[]::TEXT[];

